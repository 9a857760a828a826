package boltfile

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"slices"
)

// The layout of go.etcd.io/bbolt/internal/common, format version 2: a
// 16-byte page header (id uint64, flags uint16, count uint16, overflow
// uint32) in native byte order, and for meta pages a 64-byte meta after it.
const (
	magic          = 0xED0CDAED
	version        = 2
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

// Meta is a decoded meta page whose checksum verified: one snapshot of the
// file.
type Meta struct {
	PageSize  uint32
	Root      uint64 // the root bucket's page
	Freelist  uint64 // the freelist's page; ^uint64(0) when not persisted
	HighWater uint64 // pages in use are below it
	TxID      uint64 // the transaction that wrote it; the higher is current
}

// HasFreelist reports whether the snapshot stores its freelist. Without
// one (a file written with bbolt's NoFreelistSync and not closed cleanly)
// bbolt rebuilds it at open by walking every page on a goroutine of its
// own, where a damaged page crashes the process: Walk the snapshot first.
func (m Meta) HasFreelist() bool { return m.Freelist != noFreelist }

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
func parseMeta(b []byte) (Meta, metaStatus) {
	if len(b) < pageHeaderSize+metaSize {
		return Meta{}, metaNotBolt
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	if ne.Uint32(m[0:]) != magic {
		return Meta{}, metaNotBolt
	}
	if ne.Uint32(m[4:]) != version {
		return Meta{}, metaVersion
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != ne.Uint64(m[56:]) {
		return Meta{}, metaChecksum
	}
	return Meta{
		PageSize:  ne.Uint32(m[8:]),
		Root:      ne.Uint64(m[16:]),
		Freelist:  ne.Uint64(m[32:]),
		HighWater: ne.Uint64(m[40:]),
		TxID:      ne.Uint64(m[48:]),
	}, metaOK
}

// File is what Inspect learned about a file.
type File struct {
	Exists bool   // false: there is no file (bbolt would create it)
	Size   int64  // its size in bytes; 0 is a file bbolt would initialise
	Metas  []Meta // its valid meta pages
	Meta   Meta   // the one bbolt will use: the highest TxID
}

// Inspect checks the file at path before bbolt opens it. A missing file is
// fine (Exists false) and so is an empty one (bbolt initialises it);
// anything else must be a regular file with a valid meta page whose pages
// fit in the file, and a sound freelist. Otherwise the error wraps
// ErrNotBolt or ErrDamaged (an *Error), or is an I/O error.
func Inspect(path string) (File, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, nil
	}
	if err != nil {
		return File{}, fmt.Errorf("boltfile: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return File{}, fmt.Errorf("boltfile: %w", err)
	}
	st := File{Exists: true, Size: fi.Size()}
	if !fi.Mode().IsRegular() {
		return st, notBolt("not a regular file")
	}
	if st.Size == 0 {
		return st, nil
	}
	metas, worst, err := readMetas(f, st.Size)
	if err != nil {
		return st, err
	}
	if len(metas) == 0 {
		switch worst {
		case metaChecksum:
			return st, damaged("both bbolt meta pages fail their checksum")
		case metaVersion:
			return st, notBolt("unsupported bbolt format version")
		}
		return st, notBolt("no bbolt meta page")
	}
	st.Metas = metas
	st.Meta = slices.MaxFunc(metas, func(a, b Meta) int { return cmp.Compare(a.TxID, b.TxID) })
	if err := CheckMeta(f, st.Size, st.Meta); err != nil {
		return st, err
	}
	return st, nil
}

// ReadMetas returns the valid meta pages of the bbolt file of size bytes
// read through r (none when it has none); the error is an I/O error.
func ReadMetas(r io.ReaderAt, size int64) ([]Meta, error) {
	metas, _, err := readMetas(r, size)
	return metas, err
}

// readMetas returns the valid meta pages of a bbolt file: page 0, and page
// 1 at the page size page 0 names (or, if page 0 is damaged, at any
// plausible page size, as bbolt does). worst is the most telling failure
// seen.
func readMetas(r io.ReaderAt, size int64) (metas []Meta, worst metaStatus, err error) {
	buf := make([]byte, pageHeaderSize+metaSize)
	read := func(off int64) (Meta, metaStatus, error) {
		if off+int64(len(buf)) > size {
			return Meta{}, metaNotBolt, nil
		}
		if _, err := r.ReadAt(buf, off); err != nil {
			return Meta{}, metaNotBolt, fmt.Errorf("boltfile: reading meta page: %w", err)
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
	if st0 == metaOK && validPageSize(m0.PageSize) {
		metas = append(metas, m0)
		sizes = []int64{int64(m0.PageSize)}
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
		if st1 == metaOK && int64(m1.PageSize) == ps {
			metas = append(metas, m1)
			break
		}
	}
	return metas, worst, nil
}

func validPageSize(ps uint32) bool {
	return ps >= minPageSize && ps <= maxPageSize && ps&(ps-1) == 0
}

// CheckMeta checks that the pages m refers to lie inside the file of size
// bytes read through r and that its freelist page is sound. A problem is
// an error wrapping ErrDamaged (an *Error); other errors are I/O errors.
func CheckMeta(r io.ReaderAt, size int64, m Meta) error {
	ps := int64(m.PageSize)
	if !validPageSize(m.PageSize) {
		return damaged(fmt.Sprintf("meta page names an invalid page size %d", m.PageSize))
	}
	if m.HighWater < 3 || m.HighWater > uint64(size/ps) {
		return damaged(fmt.Sprintf("file has %d bytes but its meta page says %d pages of %d bytes are in use (truncated?)",
			size, m.HighWater, ps))
	}
	if m.Root < 2 || m.Root >= m.HighWater {
		return damaged(fmt.Sprintf("root page %d outside [2, %d)", m.Root, m.HighWater))
	}
	if m.Freelist == noFreelist {
		return nil
	}
	if m.Freelist < 2 || m.Freelist >= m.HighWater {
		return damaged(fmt.Sprintf("freelist page %d outside [2, %d)", m.Freelist, m.HighWater))
	}
	hdr := make([]byte, pageHeaderSize)
	if _, err := r.ReadAt(hdr, int64(m.Freelist)*ps); err != nil {
		return fmt.Errorf("boltfile: reading freelist page: %w", err)
	}
	id, flags, count, overflow := ne.Uint64(hdr), ne.Uint16(hdr[8:]), int(ne.Uint16(hdr[10:])), uint64(ne.Uint32(hdr[12:]))
	if id != m.Freelist || flags != freelistFlag {
		return damaged(fmt.Sprintf("page %d is not a freelist page (id %d, flags %#x)", m.Freelist, id, flags))
	}
	if m.Freelist+overflow >= m.HighWater {
		return damaged(fmt.Sprintf("freelist page %d overflows past the high-water mark", m.Freelist))
	}
	page := make([]byte, int64(overflow+1)*ps)
	if _, err := r.ReadAt(page, int64(m.Freelist)*ps); err != nil {
		return fmt.Errorf("boltfile: reading freelist: %w", err)
	}
	body := page[pageHeaderSize:]
	start := 0
	if count == 0xFFFF { // the real count is the first element
		if len(body) < 8 {
			return damaged("freelist too short")
		}
		c := ne.Uint64(body)
		if c > uint64(len(body)/8) {
			return damaged(fmt.Sprintf("freelist claims %d pages but has room for %d", c, len(body)/8))
		}
		count, start = int(c), 1
	}
	if (start+count)*8 > len(body) {
		return damaged(fmt.Sprintf("freelist claims %d pages but has room for %d", count, len(body)/8-start))
	}
	ids := make([]uint64, count)
	for i := range ids {
		ids[i] = ne.Uint64(body[(start+i)*8:])
		if ids[i] < 2 || ids[i] >= m.HighWater {
			return damaged(fmt.Sprintf("freelist names page %d outside [2, %d)", ids[i], m.HighWater))
		}
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return damaged(fmt.Sprintf("freelist names page %d twice", ids[i]))
		}
	}
	return nil
}
