package state

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// redisKeys are one partition's keys. All share the hash tag {prefix:p}, so
// in Redis Cluster they live in one slot and a MULTI/EXEC may touch them all.
type redisKeys struct {
	base  string // "{prefix:p}"
	meta  string // string: seq, offset, meta blob (see appendRedisMeta)
	cards string // hash: card key -> value
	lists string // set: names of the lists that exist
	owner string // string: integer fencing token, INCRed by every Load
}

func newRedisKeys(prefix string, p int) redisKeys {
	base := "{" + prefix + ":" + strconv.Itoa(p) + "}"
	return redisKeys{base: base, meta: base + ":meta", cards: base + ":cards", lists: base + ":lists", owner: base + ":owner"}
}

// list returns the key of the list named name.
func (k *redisKeys) list(name string) string { return k.base + ":l:" + name }

// The meta key's value, version 1, little-endian:
//
//	version byte (=1) | seq uint64 | offset int64 | meta blob (rest)
//
// Seq and offset sit beside the meta blob in one key so that one SET in the
// transaction moves all three, and one GET reads them for the fencing check.
const (
	redisMetaVersion   = 1
	redisMetaHeaderLen = 17
)

func appendRedisMeta(dst []byte, seq uint64, offset int64, meta []byte) []byte {
	dst = append(dst, redisMetaVersion)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(offset))
	return append(dst, meta...)
}

// decodeRedisMeta decodes a meta value; meta aliases b.
func decodeRedisMeta(b []byte) (seq uint64, offset int64, meta []byte, err error) {
	if len(b) < redisMetaHeaderLen {
		return 0, 0, nil, fmt.Errorf("meta value is %d bytes, shorter than its %d-byte header", len(b), redisMetaHeaderLen)
	}
	if b[0] != redisMetaVersion {
		return 0, 0, nil, fmt.Errorf("unsupported meta version %d (this build reads %d)", b[0], redisMetaVersion)
	}
	seq = binary.LittleEndian.Uint64(b[1:9])
	offset = int64(binary.LittleEndian.Uint64(b[9:17]))
	return seq, offset, b[redisMetaHeaderLen:], nil
}
