package boltfile

import (
	"bytes"
	"fmt"
	"io"
)

// walker walks the page tree of one snapshot; see Walk.
type walker struct {
	r        io.ReaderAt
	pageSize int64
	hwm      uint64
	seen     []uint64 // bitset of visited pages
	problems []string
	found    int // problems found, also those beyond max
	max      int // stop collecting after max problems
	pages    int // pages visited
}

// maxTreeDepth bounds branch-page recursion; bbolt trees are a handful of
// levels deep, so anything deeper is damage.
const maxTreeDepth = 64

// maxBucketDepth bounds nested buckets (sesbolt uses top-level ones only).
const maxBucketDepth = 16

// Walk checks the page structure of the snapshot m of a bbolt file through
// r (ordinary reads, never bbolt's memory map): every page reachable from
// the root bucket must lie below the high-water mark, say who it is, be a
// branch or leaf page, be referenced once (so there are no cycles), and
// hold elements whose keys and values fit inside it, down to the pages of
// nested and inline buckets, and keep the key order of bbolt's tx.Check
// (keys rising within a page and within their parent's bounds). Only when this walk is clean is it safe to let
// bbolt (its cursors, and tx.Check, which runs on a goroutine of its own)
// loose on the snapshot: bbolt reads pages through unchecked pointers and
// recurses through branch pages, so a damaged page can fault or loop
// forever.
//
// It returns at most max problems, one line each (none when the structure
// is sound), and the number of pages it visited; the error is an I/O error.
func Walk(r io.ReaderAt, m Meta, max int) (problems []string, pages int, err error) {
	w := &walker{
		r:        r,
		pageSize: int64(m.PageSize),
		hwm:      m.HighWater,
		seen:     make([]uint64, (m.HighWater+63)/64),
		max:      max,
	}
	_, err = w.tree(m.Root, 0, 0, "root bucket", nil, nil)
	return w.problems, w.pages, err
}

func (w *walker) problem(format string, args ...any) {
	w.found++
	if len(w.problems) < w.max {
		w.problems = append(w.problems, fmt.Sprintf(format, args...))
	}
}

func (w *walker) full() bool { return len(w.problems) >= w.max }

// mark records pages id..id+overflow as visited; false if one already was.
func (w *walker) mark(id, overflow uint64) bool {
	ok := true
	for p := id; p <= id+overflow; p++ {
		word, bit := p/64, uint64(1)<<(p%64)
		if w.seen[word]&bit != 0 {
			ok = false
		}
		w.seen[word] |= bit
	}
	return ok
}

// tree walks the b-tree rooted at page id, whose keys must lie in [lo, hi)
// (nil: unbounded), and returns its largest key (nil when it has none or
// is damaged).
//
// The key order is checked as bbolt's tx.Check checks it
// (recursivelyCheckPageKeyOrder): bbolt reports a violation as an error,
// and where it rebuilds a freelist at open (db.freepages) it panics on the
// first error while its checking goroutine goes on reading pages of a
// memory map that may be gone, so a file it would reject must not reach it.
func (w *walker) tree(id uint64, depth, bucketDepth int, where string, lo, hi []byte) ([]byte, error) {
	if w.full() {
		return nil, nil
	}
	if depth > maxTreeDepth {
		w.problem("%s: page %d: tree deeper than %d levels", where, id, maxTreeDepth)
		return nil, nil
	}
	if id < 2 || id >= w.hwm {
		w.problem("%s: page %d: out of bounds (high-water mark %d)", where, id, w.hwm)
		return nil, nil
	}
	hdr := make([]byte, pageHeaderSize)
	if _, err := w.r.ReadAt(hdr, int64(id)*w.pageSize); err != nil {
		return nil, fmt.Errorf("boltfile: reading page %d: %w", id, err)
	}
	hid, flags, overflow := ne.Uint64(hdr), ne.Uint16(hdr[8:]), uint64(ne.Uint32(hdr[12:]))
	if hid != id {
		w.problem("%s: page %d: header names page %d", where, id, hid)
		return nil, nil
	}
	if flags != branchFlag && flags != leafFlag {
		w.problem("%s: page %d: not a branch or leaf page (flags %#x)", where, id, flags)
		return nil, nil
	}
	if id+overflow >= w.hwm {
		w.problem("%s: page %d: overflow of %d pages runs past the high-water mark %d", where, id, overflow, w.hwm)
		return nil, nil
	}
	if !w.mark(id, overflow) {
		w.problem("%s: page %d: referenced more than once", where, id)
		return nil, nil
	}
	w.pages++
	page := make([]byte, int64(overflow+1)*w.pageSize)
	if _, err := w.r.ReadAt(page, int64(id)*w.pageSize); err != nil {
		return nil, fmt.Errorf("boltfile: reading page %d: %w", id, err)
	}
	here := fmt.Sprintf("%s: page %d", where, id)
	if flags == leafFlag {
		found := w.found
		if err := w.leaf(page, depth, bucketDepth, here); err != nil || w.found > found {
			return nil, err
		}
		return w.leafOrder(page, lo, hi, here), nil
	}
	count := int(ne.Uint16(page[10:]))
	if pageHeaderSize+count*elementSize > len(page) {
		w.problem("%s: %d elements do not fit", here, count)
		return nil, nil
	}
	keys := make([][]byte, count)
	for i := range count {
		off := pageHeaderSize + i*elementSize
		pos, ksize := int(ne.Uint32(page[off:])), int(ne.Uint32(page[off+4:]))
		if off+pos+ksize > len(page) {
			w.problem("%s: branch element %d lies outside the page", here, i)
			return nil, nil
		}
		keys[i] = page[off+pos : off+pos+ksize]
	}
	var largest []byte
	min := lo
	for i, key := range keys {
		if !w.inOrder(i, key, min, hi, here) {
			return nil, nil
		}
		next := hi
		if i+1 < count {
			next = keys[i+1]
		}
		found := w.found
		child := ne.Uint64(page[pageHeaderSize+i*elementSize+8:])
		var err error
		if largest, err = w.tree(child, depth+1, bucketDepth, where, key, next); err != nil || w.found > found {
			return nil, err
		}
		min = largest
	}
	return largest, nil
}

// leafOrder checks the key order of a leaf page whose elements leaf found
// in bounds, and returns its largest key.
func (w *walker) leafOrder(page []byte, lo, hi []byte, where string) []byte {
	min := lo
	for i := range int(ne.Uint16(page[10:])) {
		off := pageHeaderSize + i*elementSize
		pos, ksize := int(ne.Uint32(page[off+4:])), int(ne.Uint32(page[off+8:]))
		key := page[off+pos : off+pos+ksize]
		if !w.inOrder(i, key, min, hi, where) {
			return nil
		}
		min = key
	}
	return min
}

// inOrder reports whether key, the i-th of its page, follows prev (the
// previous key, or for the first one the lower bound; nil: none) and lies
// below hi (nil: none), as bbolt's verifyKeyOrder requires.
func (w *walker) inOrder(i int, key, prev, hi []byte, where string) bool {
	switch {
	case i == 0 && prev != nil && bytes.Compare(prev, key) > 0:
		w.problem("%s: key %d is below its parent's key", where, i)
	case i > 0 && bytes.Compare(prev, key) >= 0:
		w.problem("%s: key %d does not follow the key before it", where, i)
	case hi != nil && bytes.Compare(key, hi) >= 0:
		w.problem("%s: key %d is not below the next key of its parent", where, i)
	default:
		return true
	}
	return false
}

// leaf checks the elements of a leaf page (a whole page, or an inline
// bucket's page inside a value) and walks the buckets it holds.
func (w *walker) leaf(page []byte, depth, bucketDepth int, where string) error {
	if len(page) < pageHeaderSize {
		w.problem("%s: inline page too short", where)
		return nil
	}
	if flags := ne.Uint16(page[8:]); flags != leafFlag {
		w.problem("%s: inline page is not a leaf page (flags %#x)", where, flags)
		return nil
	}
	count := int(ne.Uint16(page[10:]))
	if pageHeaderSize+count*elementSize > len(page) {
		w.problem("%s: %d elements do not fit", where, count)
		return nil
	}
	for i := range count {
		off := pageHeaderSize + i*elementSize
		flags := ne.Uint32(page[off:])
		pos, ksize, vsize := int(ne.Uint32(page[off+4:])), int(ne.Uint32(page[off+8:])), int(ne.Uint32(page[off+12:]))
		start := off + pos
		if pos < 0 || start+ksize+vsize > len(page) || start+ksize+vsize < start {
			w.problem("%s: element %d lies outside the page", where, i)
			return nil
		}
		if flags&bucketLeafFlag == 0 {
			continue
		}
		name := page[start : start+ksize]
		value := page[start+ksize : start+ksize+vsize]
		sub := fmt.Sprintf("bucket %q", name)
		if bucketDepth >= maxBucketDepth {
			w.problem("%s: buckets nested deeper than %d", sub, maxBucketDepth)
			return nil
		}
		if len(value) < 16 {
			w.problem("%s: bucket header too short", sub)
			continue
		}
		if root := ne.Uint64(value); root != 0 {
			if _, err := w.tree(root, 0, bucketDepth+1, sub, nil, nil); err != nil {
				return err
			}
			continue
		}
		if err := w.leaf(value[16:], 0, bucketDepth+1, sub+" (inline)"); err != nil {
			return err
		}
	}
	return nil
}
