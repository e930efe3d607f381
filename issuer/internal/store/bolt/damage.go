package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// ErrDamaged: the database file is truncated or corrupt. bbolt maps the file
// and reads its pages in place, so a file shorter than its own meta page
// says faults the process (SIGBUS) rather than returning an error: Open
// checks the file first.
var ErrDamaged = errors.New("the issuer database is damaged")

// The layout of a bbolt meta page (go.etcd.io/bbolt, internal/common): a
// 16-byte page header, then the meta.
const (
	metaMagic    = 0xED0CDAED
	offMagic     = 16
	offPageSize  = 24
	offHighWater = 56 // pgid: the number of pages the file holds
	offChecksum  = 72
)

// checkFile returns ErrDamaged, saying what is wrong and what to do, when
// the file at path exists and its meta pages are unreadable or name more
// pages than it has. A missing or empty file is a new database.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nil // bbolt reports it with its own words
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return nil
	}
	size := st.Size()
	first := make([]byte, 4096)
	if _, err := io.ReadFull(f, first); err != nil {
		return damaged(path, fmt.Sprintf("it is %d bytes, shorter than one page", size))
	}
	ok := 0
	for i, off := range []int64{0, int64(binary.LittleEndian.Uint32(first[offPageSize:]))} {
		page := make([]byte, offChecksum+8)
		if _, err := f.ReadAt(page, off); err != nil || off == 0 && i == 1 {
			continue
		}
		if binary.LittleEndian.Uint32(page[offMagic:]) != metaMagic {
			continue
		}
		h := fnv.New64a()
		h.Write(page[offMagic:offChecksum])
		if h.Sum64() != binary.LittleEndian.Uint64(page[offChecksum:]) {
			continue
		}
		pageSize := int64(binary.LittleEndian.Uint32(page[offPageSize:]))
		if pages := int64(binary.LittleEndian.Uint64(page[offHighWater:])); pages*pageSize > size {
			return damaged(path, fmt.Sprintf("it is %d bytes, its own record says %d (truncated)", size, pages*pageSize))
		}
		ok++
	}
	if ok == 0 {
		return damaged(path, "neither of its two meta pages is valid (overwritten or not a bbolt file)")
	}
	return nil
}

func damaged(path, why string) error {
	return fmt.Errorf("%w: %s: %s. Stop every tenure-issuer using it, then restore the file from a backup (copy the backup over %s); "+
		"or move it aside to start with an empty database, which knows no contracts, tokens or seats. "+
		"In production the DynamoDB store keeps point-in-time recovery (PITR) backups to restore from instead",
		ErrDamaged, path, why, path)
}
