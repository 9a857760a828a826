// Package boltfile reads bbolt's on-disk format with ordinary file reads,
// so that a damaged database file is refused or reported instead of
// crashing the process that opens it.
//
// bbolt maps its file into memory and trusts it: it follows page ids and
// element offsets without bounds checks, so a damaged meta page, freelist
// or branch page makes it panic, fault on an address beyond its map, or
// recurse without end. Inside bbolt.Open such a fault cannot even be
// cleaned up (the memory map would keep the file lock). Package boltstore
// promises that Open returns ErrCorrupt (or ErrNotBolt) for such a file and
// that Check reports the damage, so it asks this package first:
//
//   - Inspect checks, before bbolt maps the file, what bbolt.Open reads
//     blindly: the two meta pages (magic, version, checksum), that the
//     pages they name lie inside the file, and the freelist page.
//   - Walk checks the page tree of one snapshot: every page reachable from
//     the root lies below the high-water mark, names itself, is a branch or
//     leaf page, is referenced once (no cycles), holds elements that fit
//     inside it, and keeps its keys in the order bbolt's tx.Check demands.
//     Only a clean walk makes it safe to run bbolt's own cursors and
//     tx.Check over that snapshot, and to let bbolt rebuild a freelist the
//     file does not store (which runs tx.Check's walk, see Meta.HasFreelist).
//
// Problems are reported as errors wrapping ErrNotBolt or ErrDamaged (see
// Error); the caller maps them to its own errors.
//
// # Caveats
//
//   - The layout mirrors go.etcd.io/bbolt/internal/common, format version
//     2, the only one bbolt has written since 2014. A file of another
//     version is ErrNotBolt; a future bbolt format needs this package
//     updated.
//   - Page headers are read in native byte order, as bbolt writes them: a
//     file written on a machine of the other byte order is ErrNotBolt here,
//     as it is unusable to bbolt.
//   - It checks structure and key order, not content: the freelist's
//     agreement with the tree is left to bbolt's tx.Check, which is safe
//     to run once Walk found nothing.
package boltfile
