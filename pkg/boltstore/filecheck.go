package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"slices"
)

// Before bbolt maps a file, the store reads the parts bbolt trusts blindly
// at Open with ordinary file I/O: the two meta pages and the freelist. A file
// that is not bbolt, is truncated, or has a damaged freelist is refused with
// a clear error instead of a fault inside bbolt.Open (which could not be
// cleaned up: the memory map would keep the file lock).
//
// The layout mirrors go.etcd.io/bbolt/internal/common (format version 2, the
// only one bbolt has written since 2014): a 16-byte page header (id uint64,
// flags uint16, count uint16, overflow uint32) in native byte order, and for
// meta pages a 64-byte meta after it.

const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	metaSize       = 64
	branchFlag     = 0x01
	leafFlag       = 0x02
	freelistFlag   = 0x10
	bucketLeafFlag = 0x01
	elementSize    = 16 // both branch and leaf page elements
	noFreelist     = ^uint64(0)
	minPageSize    = 512
	maxPageSize    = 1 << 24
)

var ne = binary.NativeEndian

// boltMeta is a decoded, checksum-verified meta page.
type boltMeta struct {
	pageSize uint32
	root     uint64 // root bucket's page
	freelist uint64 // freelist page, noFreelist when not persisted
	hwm      uint64 // high-water mark: pages in use are < hwm
	txid     uint64
}

// metaStatus classifies a meta page that did not decode.
type metaStatus int

const (
	metaOK metaStatus = iota
	metaNotBolt
	metaVersion
	metaChecksum
)

// parseMeta decodes the meta page in b (at least pageHeaderSize+metaSize
// bytes).
func parseMeta(b []byte) (boltMeta, metaStatus) {
	if len(b) < pageHeaderSize+metaSize {
		return boltMeta{}, metaNotBolt
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	if ne.Uint32(m[0:]) != boltMagic {
		return boltMeta{}, metaNotBolt
	}
	if ne.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, metaVersion
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != ne.Uint64(m[56:]) {
		return boltMeta{}, metaChecksum
	}
	return boltMeta{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		hwm:      ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}, metaOK
}

// fileState is what inspectFile learned about a file.
type fileState struct {
	exists bool
	size   int64
	metas  []boltMeta // the valid meta pages
	meta   boltMeta   // the one bbolt will use: the highest txid
}

// inspectFile checks the file at path before bbolt opens it. A missing file
// is fine (exists false) and so is an empty one (bbolt initialises it);
// anything else must have a valid meta page whose pages fit in the file and
// a sound freelist. Errors wrap ErrNotBolt or ErrCorrupt, or are I/O errors.
func inspectFile(path string) (fileState, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{}, nil
	}
	if err != nil {
		return fileState{}, fmt.Errorf("boltstore: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileState{}, fmt.Errorf("boltstore: %w", err)
	}
	st := fileState{exists: true, size: fi.Size()}
	if !fi.Mode().IsRegular() {
		return st, fmt.Errorf("%w: %s is not a regular file", ErrNotBolt, path)
	}
	if st.size == 0 {
		return st, nil
	}
	metas, worst, err := readMetas(f, st.size)
	if err != nil {
		return st, err
	}
	if len(metas) == 0 {
		switch worst {
		case metaChecksum:
			return st, fmt.Errorf("%w: %s: both bbolt meta pages fail their checksum", ErrCorrupt, path)
		case metaVersion:
			return st, fmt.Errorf("%w: %s: unsupported bbolt format version", ErrNotBolt, path)
		}
		return st, fmt.Errorf("%w: %s", ErrNotBolt, path)
	}
	st.metas = metas
	st.meta = slices.MaxFunc(metas, func(a, b boltMeta) int { return cmpUint(a.txid, b.txid) })
	if err := checkMeta(f, st.size, st.meta); err != nil {
		return st, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	return st, nil
}

// readMetas returns the valid meta pages of a bbolt file: page 0, and page 1
// at the page size page 0 names (or, if page 0 is damaged, at any plausible
// page size, as bbolt does). worst is the most telling failure seen.
func readMetas(f io.ReaderAt, size int64) (metas []boltMeta, worst metaStatus, err error) {
	buf := make([]byte, pageHeaderSize+metaSize)
	read := func(off int64) (boltMeta, metaStatus, error) {
		if off+int64(len(buf)) > size {
			return boltMeta{}, metaNotBolt, nil
		}
		if _, err := f.ReadAt(buf, off); err != nil {
			return boltMeta{}, metaNotBolt, fmt.Errorf("boltstore: reading meta page: %w", err)
		}
		m, st := parseMeta(buf)
		return m, st, nil
	}
	note := func(st metaStatus) {
		if st > worst {
			worst = st
		}
	}
	m0, st0, err := read(0)
	if err != nil {
		return nil, 0, err
	}
	note(st0)
	var sizes []int64
	if st0 == metaOK && validPageSize(m0.pageSize) {
		metas = append(metas, m0)
		sizes = []int64{int64(m0.pageSize)}
	} else {
		for ps := int64(1024); ps <= maxPageSize; ps *= 2 {
			sizes = append(sizes, ps)
		}
	}
	for _, ps := range sizes {
		m1, st1, err := read(ps)
		if err != nil {
			return nil, 0, err
		}
		note(st1)
		if st1 == metaOK && int64(m1.pageSize) == ps {
			metas = append(metas, m1)
			break
		}
	}
	return metas, worst, nil
}

func validPageSize(ps uint32) bool {
	return ps >= minPageSize && ps <= maxPageSize && ps&(ps-1) == 0
}

// checkMeta checks that the pages m refers to lie inside the file and that
// its freelist page is sound.
func checkMeta(f io.ReaderAt, size int64, m boltMeta) error {
	ps := int64(m.pageSize)
	if !validPageSize(m.pageSize) {
		return fmt.Errorf("meta page names an invalid page size %d", m.pageSize)
	}
	if m.hwm < 3 || m.hwm > uint64(size/ps) {
		return fmt.Errorf("file has %d bytes but its meta page says %d pages of %d bytes are in use (truncated?)",
			size, m.hwm, ps)
	}
	if m.root < 2 || m.root >= m.hwm {
		return fmt.Errorf("root page %d outside [2, %d)", m.root, m.hwm)
	}
	if m.freelist == noFreelist {
		return nil
	}
	if m.freelist < 2 || m.freelist >= m.hwm {
		return fmt.Errorf("freelist page %d outside [2, %d)", m.freelist, m.hwm)
	}
	hdr := make([]byte, pageHeaderSize)
	if _, err := f.ReadAt(hdr, int64(m.freelist)*ps); err != nil {
		return fmt.Errorf("reading freelist page: %w", err)
	}
	id, flags, count, overflow := ne.Uint64(hdr), ne.Uint16(hdr[8:]), int(ne.Uint16(hdr[10:])), uint64(ne.Uint32(hdr[12:]))
	if id != m.freelist || flags != freelistFlag {
		return fmt.Errorf("page %d is not a freelist page (id %d, flags %#x)", m.freelist, id, flags)
	}
	if m.freelist+overflow >= m.hwm {
		return fmt.Errorf("freelist page %d overflows past the high-water mark", m.freelist)
	}
	page := make([]byte, int64(overflow+1)*ps)
	if _, err := f.ReadAt(page, int64(m.freelist)*ps); err != nil {
		return fmt.Errorf("reading freelist: %w", err)
	}
	body := page[pageHeaderSize:]
	start := 0
	if count == 0xFFFF { // the real count is the first element
		if len(body) < 8 {
			return errors.New("freelist too short")
		}
		c := ne.Uint64(body)
		if c > uint64(len(body)/8) {
			return fmt.Errorf("freelist claims %d pages but has room for %d", c, len(body)/8)
		}
		count, start = int(c), 1
	}
	if (start+count)*8 > len(body) {
		return fmt.Errorf("freelist claims %d pages but has room for %d", count, len(body)/8-start)
	}
	ids := make([]uint64, count)
	for i := range ids {
		ids[i] = ne.Uint64(body[(start+i)*8:])
		if ids[i] < 2 || ids[i] >= m.hwm {
			return fmt.Errorf("freelist names page %d outside [2, %d)", ids[i], m.hwm)
		}
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return fmt.Errorf("freelist names page %d twice", ids[i])
		}
	}
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
