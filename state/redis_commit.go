package state

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tapsettle/tapsettle/internal/pages"
)

// Command sizes inside the transaction: Redis handles commands of thousands
// of arguments well, and chunking keeps any one of them from monopolising
// the server or the client's write buffer.
const (
	redisHSetPairs = 1024 // field/value pairs per HSET
	redisDelKeys   = 1024 // keys per DEL
)

// Commit applies cp in one MULTI/EXEC, three round trips in all:
//
//  1. WATCH owner and meta;
//  2. GET owner, GET meta (and SMEMBERS lists for a Full checkpoint), pipelined:
//     the token must still be ours (else ErrFenced) and the stored Seq must be
//     cp.Seq-1 — or cp.Seq, which means an earlier attempt was applied and its
//     reply lost, so Commit returns nil without writing;
//  3. MULTI, [DEL cards, lists and every list for Full], HSET cards in chunks,
//     DEL and SREM drops, RPUSH and SADD appends, SET meta, EXEC.
//
// If another Store Loads p between 1 and 3, its INCR of the owner key makes
// EXEC discard the whole transaction (ErrFenced); an EXEC discarded with the
// owner token still ours is retryable (see aborted). Any other failure wraps
// ErrUnavailable: the caller retries the same checkpoint, and step 2 makes
// the retry apply it at most once.
func (r *Redis) Commit(ctx context.Context, p int, cp *Checkpoint) error {
	if err := validate(p, cp); err != nil {
		return err
	}
	pt, err := r.owned(p)
	if err != nil {
		return err
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.token == 0 {
		return fmt.Errorf("state: partition %d is not loaded by this store: %w", p, ErrFenced)
	}
	err = r.client.Watch(ctx, func(tx *redis.Tx) error {
		return r.commitTx(ctx, tx, pt, cp)
	}, pt.keys.owner, pt.keys.meta)
	// Drop references to the caller's memory; keep the arrays.
	clear(pt.args)
	clear(pt.blobs)
	pt.args, pt.blobs = pt.args[:0], pt.blobs[:0]
	if err != nil {
		return r.fail("commit", pt, err)
	}
	return nil
}

// commitTx runs steps 2 and 3 of Commit on a watching connection.
func (r *Redis) commitTx(ctx context.Context, tx *redis.Tx, pt *redisPart, cp *Checkpoint) error {
	k := &pt.keys
	var (
		ownerCmd, metaCmd *redis.StringCmd
		listsCmd          *redis.StringSliceCmd
	)
	_, err := tx.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		ownerCmd = pipe.Get(ctx, k.owner)
		metaCmd = pipe.Get(ctx, k.meta)
		if cp.Full {
			listsCmd = pipe.SMembers(ctx, k.lists)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	owner, err := ownerCmd.Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("state: key %s: %v: %w", k.owner, err, ErrCorrupt)
	}
	if owner != pt.token {
		return fmt.Errorf("state: partition %d seq %d: owner token is %d, ours %d: %w", pt.p, cp.Seq, owner, pt.token, ErrFenced)
	}
	var stored uint64
	if raw, err := metaCmd.Bytes(); err == nil {
		if stored, _, _, err = decodeRedisMeta(raw); err != nil {
			return fmt.Errorf("state: key %s: %v: %w", k.meta, err, ErrCorrupt)
		}
	} else if !errors.Is(err, redis.Nil) {
		return err
	}
	switch {
	case stored == cp.Seq:
		return nil // applied by an earlier attempt whose reply was lost
	case stored+1 != cp.Seq:
		return &SeqError{Partition: pt.p, Stored: stored, Got: cp.Seq}
	}

	var lists []string
	if listsCmd != nil {
		if lists, err = listsCmd.Result(); err != nil {
			return err
		}
	}
	if r.beforeExec != nil {
		r.beforeExec()
	}
	cmds, err := tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		r.queue(ctx, pipe, pt, cp, lists)
		return nil
	})
	if errors.Is(err, redis.TxFailedErr) {
		return r.aborted(ctx, pt, cp)
	}
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

// aborted explains an EXEC that a watched key's change discarded. Another
// store's Load raises the owner token for good, so a changed token means we
// are fenced. With the token still ours nobody else took the partition and
// only we write its meta: something else touched a watched key (a server
// replaying its append-only file after a restart touches every key it loads,
// and a WATCH is served during the replay). Nothing was applied, so the
// error is retryable (fail wraps it as ErrUnavailable), and the retry's
// stored-Seq check keeps it at most once.
func (r *Redis) aborted(ctx context.Context, pt *redisPart, cp *Checkpoint) error {
	owner, err := r.client.Get(ctx, pt.keys.owner).Int64()
	switch {
	case err != nil && !errors.Is(err, redis.Nil):
		return fmt.Errorf("partition %d seq %d: transaction aborted, owner unknown: %w", pt.p, cp.Seq, err)
	case owner != pt.token:
		return fmt.Errorf("state: partition %d seq %d: owner token changed to %d during the transaction, ours %d: %w", pt.p, cp.Seq, owner, pt.token, ErrFenced)
	}
	return fmt.Errorf("partition %d seq %d: transaction aborted by a change to a watched key with our owner token %d unchanged", pt.p, cp.Seq, pt.token)
}

// queue adds the transaction's commands to pipe. Arguments are built in
// pt.args with byte slices boxed as *blobArg, so a checkpoint of n cards
// costs a few allocations per command rather than two per card.
func (r *Redis) queue(ctx context.Context, pipe redis.Pipeliner, pt *redisPart, cp *Checkpoint, lists []string) {
	k := &pt.keys
	// The three-index slice caps each command's arguments, so nothing appended
	// later (by this function or inside go-redis) can overlap them.
	do := func(start int) { pipe.Do(ctx, pt.args[start:len(pt.args):len(pt.args)]...) }

	if cp.Full {
		// DEL cards, lists and every list key, in chunks.
		keys := make([]any, 0, 2+len(lists))
		keys = append(keys, &k.cards, &k.lists)
		for _, name := range lists {
			keys = append(keys, pt.listKey(name))
		}
		for len(keys) > 0 {
			n := min(len(keys), redisDelKeys)
			start := len(pt.args)
			pt.args = append(pt.args, "del")
			pt.args = append(pt.args, keys[:n]...)
			do(start)
			keys = keys[n:]
		}
	}

	for cards := cp.Cards; len(cards) > 0; {
		n := min(len(cards), redisHSetPairs)
		// Room for the command's arguments and blobs, grown by doubling: a
		// checkpoint's HSETs carry up to every card of the partition, and
		// append's steps would copy them over and over (the blobs'
		// addresses stay valid either way, see blob).
		pt.args = pages.Grow(pt.args, 2+2*n)
		pt.blobs = pages.Grow(pt.blobs, 2*n)
		start := len(pt.args)
		pt.args = append(pt.args, "hset", &k.cards)
		for i := range cards[:n] {
			pt.args = append(pt.args, pt.blob(cards[i].Key), pt.blob(cards[i].Value))
		}
		do(start)
		cards = cards[n:]
	}

	if !cp.Full && len(cp.Drops) > 0 {
		start := len(pt.args)
		pt.args = append(pt.args, "del")
		for _, name := range cp.Drops {
			pt.args = append(pt.args, pt.listKey(name))
		}
		do(start)
		start = len(pt.args)
		pt.args = append(pt.args, "srem", &k.lists)
		for i := range cp.Drops {
			pt.args = append(pt.args, &cp.Drops[i])
		}
		do(start)
	}

	if len(cp.Appends) > 0 {
		// One RPUSH per list, blobs in their order. Appends to different
		// lists commute, so grouping them changes nothing but the number of
		// commands. A counting sort over the reused scratch keeps it O(n)
		// and allocation-free.
		pt.groupAppends(cp.Appends)
		for g, first := range pt.groupFirst {
			start := len(pt.args)
			pt.args = append(pt.args, "rpush", pt.listKey(cp.Appends[first].List))
			for _, i := range pt.order[pt.groupEnd[g]-pt.groupLen[g] : pt.groupEnd[g]] {
				pt.args = append(pt.args, pt.blob(cp.Appends[i].Blob))
			}
			do(start)
		}
		start := len(pt.args)
		pt.args = append(pt.args, "sadd", &k.lists)
		for _, first := range pt.groupFirst {
			pt.args = append(pt.args, &cp.Appends[first].List)
		}
		do(start)
	}

	pt.meta = appendRedisMeta(pt.meta[:0], cp.Seq, cp.Offset, cp.Meta)
	start := len(pt.args)
	pt.args = append(pt.args, "set", &k.meta, pt.blob(pt.meta))
	do(start)
}

// groupAppends fills pt.groupFirst (index of the first append of each
// distinct list, in order of first appearance), pt.groupLen, pt.groupEnd and
// pt.order (append indices grouped by list, each group in append order and
// ending at groupEnd).
func (pt *redisPart) groupAppends(appends []Append) {
	if pt.groupOf == nil {
		pt.groupOf = make(map[string]int)
	}
	clear(pt.groupOf)
	pt.groupFirst, pt.groupLen, pt.groupEnd = pt.groupFirst[:0], pt.groupLen[:0], pt.groupEnd[:0]
	pt.appendGroup = pt.appendGroup[:0]
	for i := range appends {
		g, ok := pt.groupOf[appends[i].List]
		if !ok {
			g = len(pt.groupFirst)
			pt.groupOf[appends[i].List] = g
			pt.groupFirst = append(pt.groupFirst, i)
			pt.groupLen = append(pt.groupLen, 0)
		}
		pt.groupLen[g]++
		pt.appendGroup = append(pt.appendGroup, g)
	}
	end := 0
	for _, n := range pt.groupLen {
		end += n
		pt.groupEnd = append(pt.groupEnd, end)
	}
	pt.order = append(pt.order[:0], make([]int, len(appends))...)
	// Fill each group from its end backwards, walking appends backwards, so
	// every group keeps append order.
	fill := append(pt.groupFill[:0], pt.groupEnd...)
	for i := len(appends) - 1; i >= 0; i-- {
		g := pt.appendGroup[i]
		fill[g]--
		pt.order[fill[g]] = i
	}
	pt.groupFill = fill
}

// blob boxes b without allocating in steady state. A pointer taken before
// pt.blobs grows still points at the old array, which holds the same value,
// so growth mid-transaction is safe.
func (pt *redisPart) blob(b []byte) any {
	pt.blobs = append(pt.blobs, blobArg{b})
	return &pt.blobs[len(pt.blobs)-1]
}

// listKey returns a pointer to the cached key of list name.
func (pt *redisPart) listKey(name string) *string {
	if key, ok := pt.listKeys[name]; ok {
		return key
	}
	if len(pt.listKeys) >= maxCachedListKeys {
		clear(pt.listKeys)
	}
	key := pt.keys.list(name)
	pt.listKeys[name] = &key
	return &key
}
