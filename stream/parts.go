package stream

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/stream/segment"
	"github.com/tapsettle/tapsettle/transit"
)

// Folders under an instance's output root.
const (
	segmentsDir = "segments"
	partsDir    = "parts"
)

// segRef names a committed segment in a day's list: where it is, its
// checksum and what it holds for the day.
type segRef struct {
	// Name is the path under OUT/segments/ ("p0003/00000012-9f2c.seg").
	Name string `json:"name"`
	// SHA256 of the segment file, hex.
	SHA256 string `json:"sha256"`
	// Undated marks a reference that brings the segment's undated
	// rejects (malformed messages received before the partition knew its
	// day) into the day it was folded into; it brings nothing else.
	Undated bool `json:"undated,omitempty"`
	// Policy is the fingerprint of the fare book that priced the
	// segment's rows (fares.Book.Fingerprint): a partition cuts a segment
	// whenever its book changes, so one book priced every row of a
	// segment. References written before builds recorded it have none;
	// their part's Policy names the book.
	Policy string `json:"policy_fingerprint,omitempty"`
}

// Flags of a segment reference as a day's list stores it.
const (
	refUndated   = 1
	refHasPolicy = 2
)

// appendBinary appends the reference as a day's list stores it:
//
//	name length (1 byte) | name | SHA-256 (32 bytes) | flags (1 byte: 1 = Undated, 2 = policy follows)
//	[ | policy length (1 byte) | policy ]
//
// Segment names and fingerprints are far shorter than 256 bytes (see
// segmentName; a fingerprint is "sha256:" and 64 hex digits).
func (r *segRef) appendBinary(b []byte) []byte {
	b = append(b, byte(len(r.Name)))
	b = append(b, r.Name...)
	sum, _ := hex.DecodeString(r.SHA256)
	b = append(b, sum...)
	var flags byte
	if r.Undated {
		flags |= refUndated
	}
	if r.Policy == "" {
		return append(b, flags)
	}
	b = append(b, flags|refHasPolicy, byte(len(r.Policy)))
	return append(b, r.Policy...)
}

// parseSegRefs decodes the references in a list's blobs, each blob holding
// one or more back to back. It accepts exactly what appendBinary writes.
func parseSegRefs(blobs [][]byte) ([]segRef, error) {
	var refs []segRef
	for _, b := range blobs {
		for len(b) > 0 {
			n := int(b[0])
			if len(b) < 1+n+32+1 {
				return nil, errors.New("stream: truncated segment reference")
			}
			flags := b[1+n+32]
			if flags > refUndated|refHasPolicy {
				return nil, fmt.Errorf("stream: segment reference %q has flag byte %d (0 to 3)", b[1:1+n], flags)
			}
			ref := segRef{
				Name:    string(b[1 : 1+n]),
				SHA256:  hex.EncodeToString(b[1+n : 1+n+32]),
				Undated: flags&refUndated != 0,
			}
			b = b[1+n+32+1:]
			if flags&refHasPolicy != 0 {
				if len(b) < 1 || len(b) < 1+int(b[0]) {
					return nil, errors.New("stream: truncated segment reference")
				}
				p := b[1 : 1+int(b[0])]
				if !validPolicy(p) {
					return nil, fmt.Errorf("stream: segment reference %q names policy %q: not a fingerprint", ref.Name, p)
				}
				ref.Policy, b = string(p), b[1+len(p):]
			}
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// validPolicy reports whether p can be a fare book's fingerprint in a
// reference: 1 to 128 bytes of printable ASCII without spaces, '|', '"'
// or '\', as the day's files can record it.
func validPolicy(p []byte) bool {
	if len(p) == 0 || len(p) > 128 {
		return false
	}
	for _, c := range p {
		if c <= ' ' || c >= 0x7f || c == '|' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Part is one partition's share of a settlement day: the file
// OUT/parts/DAY/pNNNN.json that [Clear] merges.
//
// Policy names the fare book that priced the partition's rows of the day,
// or, when its policies were reloaded while the day was open, the set of
// books (settlement.PolicySet); each segment reference names its own book.
// Parts written before references named theirs have one book, Policy.
type Part struct {
	Version    int    `json:"version"`
	Topic      string `json:"topic"`
	Partition  int    `json:"partition"`
	Partitions int    `json:"partitions"`
	Day        string `json:"day"`
	Policy     string `json:"policy_fingerprint"`
	// Producer names the build that closed the partition's day and wrote
	// the part (buildinfo.Info.Producer). Parts written before builds
	// recorded it have none: still version 1, whose readers ignore it.
	Producer string   `json:"producer,omitempty"`
	Segments []segRef `json:"segments"`
}

const partVersion = 1

func partPath(root string, day transit.Day, p int) string {
	return filepath.Join(root, partsDir, settlement.DirName(day), partDir(p)+".json")
}

func segmentName(p int, seq uint64, owner string) string {
	return fmt.Sprintf("%s/%08d-%s.seg", partDir(p), seq, owner)
}

func writePart(root string, day transit.Day, part *Part, sync bool) error {
	b, err := json.MarshalIndent(part, "", "  ")
	if err != nil {
		return err
	}
	_, err = durable.WriteFile(partPath(root, day, part.Partition), append(b, '\n'), sync)
	return err
}

// ClearOptions configures Clear.
type ClearOptions struct {
	// Participants are the clearing participants ((*fares.Book).Participants).
	Participants []transit.Participant
	// Calendar is the settlement calendar.
	Calendar *transit.Calendar
	// Ledger also writes the day's ledger.
	Ledger bool
	// SkipSync skips fsync (tests only).
	SkipSync bool
	// AllowMixedProducers merges parts that different builds closed
	// (see ErrMixedProducers); the day's files then name the build that
	// runs Clear, as always.
	AllowMixedProducers bool
	// RejectBuffer and SpillDir bound the memory of the day's rejects:
	// see settlement.Options. Defaults: settlement's.
	RejectBuffer int
	SpillDir     string
}

// ErrMixedProducers is returned by Clear when the parts of a day were
// closed by different builds (Part.Producer): a rolling upgrade that
// overlapped the day's close. A day's figures should come from one
// build's pricing, as they come from one policy; a clearing house that
// accepts the mixture (the builds price alike) clears it with
// ClearOptions.AllowMixedProducers ("tapsettle clear
// --allow-mixed-producers").
var ErrMixedProducers = errors.New("stream: parts closed by different builds")

// ErrIncomplete is returned by Clear when a partition's part of the day is
// missing from every folder given.
var ErrIncomplete = errors.New("stream: day incomplete")

// Clear merges the parts of day found under the instance output folders
// dirs into the day's settlement files under out, and returns the day. Every
// partition of the topic must have its part in one of dirs (ErrIncomplete
// otherwise); a part found in several folders must be the same bytes.
// Segments are found by name in any of dirs and checked against their
// SHA-256 before they are read.
//
// The parts must agree on topic, and on the build that closed them unless
// opts.AllowMixedProducers (ErrMixedProducers); they may have been priced
// by several fare books (a policy reload while the day was open), which
// the day's summary then lists, with the rows each priced. The files
// written name the build that runs Clear as their producer. The rejects
// of the Day returned, when they were spilled, are gone with the spill
// folder: only their count remains.
func Clear(day transit.Day, dirs []string, out string, opts ClearOptions) (*settlement.Day, *settlement.Manifest, error) {
	parts, err := findParts(day, dirs)
	if err != nil {
		return nil, nil, err
	}
	if err := sameProducer(parts); err != nil && !opts.AllowMixedProducers {
		return nil, nil, err
	}
	d, coll, uses, err := collectDay(day, dirs, parts, opts)
	if err != nil {
		return nil, nil, err
	}
	defer coll.Close()
	m, err := settlement.WriteDay(out, d, policyOptions(settlement.WriteOptions{
		Ledger:   opts.Ledger,
		SkipSync: opts.SkipSync,
	}, uses, parts))
	if err != nil {
		return nil, nil, err
	}
	return d, m, nil
}

// policyOptions completes opts with the fare books that priced a day:
// those of uses (collectDay's), or when no book priced a row of the day,
// the book the first part names.
func policyOptions(opts settlement.WriteOptions, uses []settlement.PolicyUse, parts []*Part) settlement.WriteOptions {
	opts.PolicyFingerprint, opts.Policies = settlement.PolicySet(uses)
	if opts.PolicyFingerprint == "" && len(parts) > 0 {
		opts.PolicyFingerprint = parts[0].Policy
	}
	return opts
}

// collectDay reads the segments that parts list into day d's settlement,
// validated, and counts the rows of the day each fare book priced (by the
// book its segment reference names). The parts are read concurrently, one
// collector shard per reader: the collector sorts the day, so the result
// does not depend on which reader got which part. The caller closes the
// collector returned once the day is written (it may hold the day's
// rejects on disk).
func collectDay(day transit.Day, dirs []string, parts []*Part, opts ClearOptions) (_ *settlement.Day, _ *settlement.Collector, _ []settlement.PolicyUse, err error) {
	readers := max(1, min(len(parts), runtime.GOMAXPROCS(0)))
	coll := settlement.NewCollector(settlement.Options{
		Participants: opts.Participants,
		Shards:       readers,
		Calendar:     opts.Calendar,
		Ledger:       opts.Ledger,
		RejectBuffer: opts.RejectBuffer,
		SpillDir:     opts.SpillDir,
	})
	defer func() {
		if err != nil {
			coll.Close()
		}
	}()
	next := make(chan *Part)
	errs := make([]error, readers)
	uses := make([][]settlement.PolicyUse, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			pr := partReader{shard: i, day: day, dirs: dirs, coll: coll}
			for part := range next {
				if errs[i] == nil {
					errs[i] = pr.read(part)
				}
			}
			pr.flush()
			uses[i] = pr.uses
		})
	}
	for _, part := range parts {
		next <- part
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, nil, err
	}
	d := coll.Day(day)
	if err := d.Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("stream: day %s: %w", settlement.DirName(day), err)
	}
	return d, coll, slices.Concat(uses...), nil
}

// partReader feeds the segments of parts into one shard of a collector,
// reusing its buffers from segment to segment.
type partReader struct {
	shard int
	day   transit.Day
	dirs  []string
	coll  *settlement.Collector
	seg   segment.Reader
	file  []byte
	rows  []transit.Priced
	// uses counts the day's rows by the book that priced them.
	uses []settlement.PolicyUse
}

func (pr *partReader) read(part *Part) error {
	for _, ref := range part.Segments {
		data, err := readSegment(pr.dirs, ref, pr.file)
		if err != nil {
			return fmt.Errorf("stream: day %s partition %d: %w", part.Day, part.Partition, err)
		}
		pr.file = data
		use := pr.use(cmp.Or(ref.Policy, part.Policy))
		_, err = pr.seg.Read(data,
			func(r *transit.Priced) error {
				if !ref.Undated && r.Day == pr.day {
					if r.Status == transit.StatusAdjustment {
						use.Adjustments++
					} else {
						use.Records++
					}
					pr.rows = append(pr.rows, *r)
					if len(pr.rows) == 4096 {
						pr.flush()
					}
				}
				return nil
			},
			func(r *transit.Reject, d transit.Day, dated bool) error {
				if (ref.Undated && !dated) || (!ref.Undated && dated && d == pr.day) {
					pr.coll.RejectIn(pr.day, *r)
				}
				return nil
			})
		if err != nil {
			return fmt.Errorf("stream: segment %s: %w", ref.Name, err)
		}
	}
	return nil
}

// use returns the count of the rows the book of fingerprint fp priced.
func (pr *partReader) use(fp string) *settlement.PolicyUse {
	for i := range pr.uses {
		if pr.uses[i].Fingerprint == fp {
			return &pr.uses[i]
		}
	}
	pr.uses = append(pr.uses, settlement.PolicyUse{Fingerprint: fp})
	return &pr.uses[len(pr.uses)-1]
}

func (pr *partReader) flush() {
	if len(pr.rows) > 0 {
		pr.coll.Emit(pr.shard, pr.rows)
		pr.rows = pr.rows[:0]
	}
}

// findParts returns one part per partition of the topic, in partition
// order.
func findParts(day transit.Day, dirs []string) ([]*Part, error) {
	name := settlement.DirName(day)
	byPart := map[int][]byte{}
	var parts []*Part
	total := -1
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, partsDir, name, "p*.json"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			var p Part
			if err := json.Unmarshal(b, &p); err != nil {
				return nil, fmt.Errorf("stream: part %s: %w", f, err)
			}
			if p.Version != partVersion || p.Day != name || p.Partitions < 1 || p.Partition < 0 || p.Partition >= p.Partitions {
				return nil, fmt.Errorf("stream: part %s: version %d, day %q, partition %d of %d", f, p.Version, p.Day, p.Partition, p.Partitions)
			}
			if total >= 0 && p.Partitions != total {
				return nil, fmt.Errorf("stream: part %s says the topic has %d partitions, another part %d", f, p.Partitions, total)
			}
			total = p.Partitions
			if prev, ok := byPart[p.Partition]; ok {
				if !bytes.Equal(prev, b) {
					return nil, fmt.Errorf("stream: two different parts for partition %d of %s (one is %s)", p.Partition, name, f)
				}
				continue
			}
			byPart[p.Partition] = b
			parts = append(parts, &p)
		}
	}
	if total < 0 {
		return nil, fmt.Errorf("no part of %s in %s: %w", name, strings.Join(dirs, ", "), ErrIncomplete)
	}
	if len(parts) != total {
		var missing []string
		for i := 0; i < total; i++ {
			if _, ok := byPart[i]; !ok {
				missing = append(missing, fmt.Sprint(i))
			}
		}
		return nil, fmt.Errorf("%s lacks partition(s) %s of %d: %w", name, strings.Join(missing, ","), total, ErrIncomplete)
	}
	// The parts may name different fare books: a partition that had rows
	// before a policy reload and one that had none name different ones.
	// The day's files list every book that priced a row.
	for _, p := range parts[1:] {
		if p.Topic != parts[0].Topic {
			return nil, fmt.Errorf("stream: parts of %s disagree on topic (%s vs %s)", name, p.Topic, parts[0].Topic)
		}
	}
	slices.SortFunc(parts, func(a, b *Part) int { return cmp.Compare(a.Partition, b.Partition) })
	return parts, nil
}

// sameProducer returns an error wrapping ErrMixedProducers, naming each
// build and its partitions, when parts (in partition order) were closed
// by different builds.
func sameProducer(parts []*Part) error {
	var builds []string
	byBuild := map[string][]string{}
	for _, p := range parts {
		b := p.Producer
		if b == "" {
			b = "a build before producers were recorded"
		}
		if _, ok := byBuild[b]; !ok {
			builds = append(builds, b)
		}
		byBuild[b] = append(byBuild[b], strconv.Itoa(p.Partition))
	}
	if len(builds) < 2 {
		return nil
	}
	desc := make([]string, len(builds))
	for i, b := range builds {
		desc[i] = fmt.Sprintf("%s (partitions %s)", b, strings.Join(byBuild[b], ","))
	}
	return fmt.Errorf("%w: %s, day %s: %s; clear it with --allow-mixed-producers if the builds price alike",
		ErrMixedProducers, parts[0].Topic, parts[0].Day, strings.Join(desc, "; "))
}

// readSegment reads the segment ref from the first of dirs that holds it
// intact, into buf when it is large enough.
func readSegment(dirs []string, ref segRef, buf []byte) ([]byte, error) {
	if strings.Contains(ref.Name, "..") || filepath.IsAbs(ref.Name) {
		return nil, fmt.Errorf("segment name %q escapes the segments folder", ref.Name)
	}
	var lastErr error
	for _, dir := range dirs {
		b, err := readFileInto(filepath.Join(dir, segmentsDir, filepath.FromSlash(ref.Name)), buf)
		if err != nil {
			lastErr = err
			continue
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != ref.SHA256 {
			lastErr = fmt.Errorf("segment %s in %s: SHA-256 %x, the part lists %s", ref.Name, dir, sum, ref.SHA256)
			continue
		}
		return b, nil
	}
	return nil, fmt.Errorf("segment %s not found intact in %s: %w", ref.Name, strings.Join(dirs, ", "), lastErr)
}

// encodeMeta and decodeMeta frame the service's part of a checkpoint's
// meta blob: the days closed whose parts may still need writing, then the
// engine's meta.
const metaVersion = 1

func encodeMeta(b []byte, pending []transit.Day, engineMeta func([]byte) []byte) []byte {
	b = append(b, metaVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pending)))
	for _, d := range pending {
		b = binary.LittleEndian.AppendUint32(b, uint32(d))
	}
	return engineMeta(b)
}

func decodeMeta(b []byte) (pending []transit.Day, engineMeta []byte, err error) {
	if len(b) < 5 || b[0] != metaVersion {
		return nil, nil, fmt.Errorf("stream: checkpoint meta of %d bytes is not version %d", len(b), metaVersion)
	}
	n := int(binary.LittleEndian.Uint32(b[1:]))
	b = b[5:]
	if n < 0 || len(b) < 4*n {
		return nil, nil, errors.New("stream: truncated checkpoint meta")
	}
	for i := 0; i < n; i++ {
		pending = append(pending, transit.Day(binary.LittleEndian.Uint32(b[4*i:])))
	}
	return pending, b[4*n:], nil
}

// readFileInto reads the file at path into buf, grown if need be.
func readFileInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := st.Size()
	if int64(cap(buf)) < n+1 {
		buf = make([]byte, 0, n+1)
	}
	// Read to EOF rather than trust the size: the +1 notices a file that
	// grew since Stat.
	b := buf[:0]
	for {
		m, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
