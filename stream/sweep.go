package stream

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/state"
	"github.com/tapsettle/tapsettle/transit"
)

// Sweeping the output folder.
//
// A segment is written before the checkpoint that commits it, so an
// attempt killed, fenced or failed in between leaves a segment no
// checkpoint references, and a write cut short leaves a durable.TempPrefix
// file. Segment names say which checkpoint commits them
// (pNNNN/SEQ-OWNER.seg, segmentName): a partition's worker, which alone
// writes its folder in this instance, removes the debris of its partition
// when it claims it and after each day it closes:
//
//   - every temporary file;
//   - a segment with SEQ above the last committed checkpoint: never
//     committed (the claim's Load fenced every earlier owner);
//   - a segment with SEQ at most the last committed one that the open
//     days' lists hold under another name: another owner's commit
//     superseded it;
//   - with the local backend only, where one instance owns every part, a
//     segment referenced by neither an open list nor a part in
//     OUT/parts/*/pNNNN.json. With a shared store a part in another
//     instance's folder may reference it: it stays.
//
// No segment referenced by an open list or by a part in this folder is
// ever removed as debris. Retention (Config.KeepDays) then bounds the
// folder: when the partition closes day D, its parts of the days before
// D-KeepDays go, with the segments that only they referenced.

// sweepResult counts what a sweep removed.
type sweepResult struct {
	files int
	bytes int64
}

func (r *sweepResult) remove(p string) error {
	st, err := os.Lstat(p)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	if err := os.Remove(p); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	r.files++
	r.bytes += st.Size()
	return nil
}

// segmentSeq returns the checkpoint sequence number in a segment's name
// (segmentName), with or without its folder.
func segmentSeq(name string) (uint64, bool) {
	base := path.Base(name)
	num, _, ok := strings.Cut(base, "-")
	if !ok || !strings.HasSuffix(base, ".seg") {
		return 0, false
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	return seq, err == nil
}

// partDir names partition p in the output folder: its folder under
// OUT/segments/ (the first element of its segments' names, segmentName)
// and its part's file name under OUT/parts/DAY/ (partPath).
func partDir(p int) string { return fmt.Sprintf("p%04d", p) }

// partRefs reads this folder's parts of partition p: the segments each
// day's part references, by day.
func (s *Service) partRefs(p int) (map[transit.Day][]string, error) {
	files, err := filepath.Glob(filepath.Join(s.cfg.OutDir, partsDir, "*", partDir(p)+".json"))
	if err != nil {
		return nil, err
	}
	refs := map[transit.Day][]string{}
	for _, f := range files {
		d, err := transit.ParseDay(filepath.Base(filepath.Dir(f)))
		if err != nil {
			continue // not a day's folder: not ours
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var part Part
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("part %s: %w", f, err)
		}
		for _, r := range part.Segments {
			refs[d] = append(refs[d], r.Name)
		}
	}
	return refs, nil
}

// sweep removes the debris of the worker's partition and, when closed is
// set, applies the retention after that day's close. It logs what it
// removed; a failure is logged and leaves the rest for the next sweep.
func (w *worker) sweep(closed transit.Day, hasClosed bool) {
	s := w.s
	var res sweepResult
	err := w.sweepInto(&res, closed, hasClosed)
	if res.files > 0 {
		s.log.Info("output folder swept", "partition", w.p, "files", res.files, "bytes", res.bytes)
		if m := s.cfg.Metrics; m != nil {
			m.Swept(res.files, res.bytes)
		}
	}
	if err != nil {
		s.log.Warn("sweeping the output folder failed; the next sweep tries again", "partition", w.p, "err", err)
	}
}

func (w *worker) sweepInto(res *sweepResult, closed transit.Day, hasClosed bool) error {
	s := w.s
	parts, err := s.partRefs(w.p)
	if err != nil {
		return err
	}
	// Retention first: the parts of old days go, and what only they
	// referenced is then referenced by nothing.
	dropped := map[string]bool{} // segments the removed parts referenced
	if hasClosed && s.cfg.KeepDays > 0 {
		for d := range parts {
			if d >= closed-transit.Day(s.cfg.KeepDays) {
				continue
			}
			part := partPath(s.cfg.OutDir, d, w.p)
			if err := res.remove(part); err != nil {
				return err
			}
			for _, n := range parts[d] {
				dropped[n] = true
			}
			delete(parts, d)
			// The day's folder goes with its last part; another
			// partition's part keeps it (the removal fails).
			_ = os.Remove(filepath.Dir(part))
		}
	}
	referenced := map[string]bool{}
	for _, names := range parts {
		for _, n := range names {
			referenced[n] = true
		}
	}
	committedSeqs := map[uint64]bool{} // checkpoints whose segment an open list holds
	for _, refs := range w.segs {
		for _, r := range refs {
			referenced[r.Name] = true
			if seq, ok := segmentSeq(r.Name); ok {
				committedSeqs[seq] = true
			}
		}
	}
	_, local := s.cfg.Store.(*state.Local)
	dir := filepath.Join(s.cfg.OutDir, segmentsDir, partDir(w.p))
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		var gone bool
		switch {
		case strings.HasPrefix(name, durable.TempPrefix):
			gone = true
		case strings.HasSuffix(name, ".seg"):
			ref := partDir(w.p) + "/" + name
			seq, ok := segmentSeq(name)
			if !ok || referenced[ref] {
				break
			}
			// Never committed, superseded, or (local backend) referenced
			// by nothing; or referenced only by the old parts just
			// removed.
			gone = seq > w.seq || committedSeqs[seq] || local || dropped[ref]
		}
		if gone {
			if err := res.remove(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sweepPartTemps removes the temporary files that writes of parts cut
// short left under OUT/parts/: no worker runs yet, so none is being
// written.
func (s *Service) sweepPartTemps() {
	var res sweepResult
	tmps, err := filepath.Glob(filepath.Join(s.cfg.OutDir, partsDir, "*", durable.TempPrefix+"*"))
	for _, f := range tmps {
		if err == nil {
			err = res.remove(f)
		}
	}
	if res.files > 0 {
		s.log.Info("output folder swept", "files", res.files, "bytes", res.bytes)
		if m := s.cfg.Metrics; m != nil {
			m.Swept(res.files, res.bytes)
		}
	}
	if err != nil {
		s.log.Warn("sweeping the output folder failed; the next sweep tries again", "err", err)
	}
}
