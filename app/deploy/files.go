package deploy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BackupDir is the directory, beside each file a deployment replaces, that keeps the
// replaced versions as <name>.<UTC time>, with the mode and owner they had.
const BackupDir = ".certctl-backup"

// snapshot is a file as it was on disk.
type snapshot struct {
	data     []byte
	mode     fs.FileMode
	uid, gid int
}

// owner is who a written file belongs to: -1 leaves an ID as it is. When strict is false,
// a failure to set it is ignored (an agent that is not root cannot give a file away).
type owner struct {
	uid, gid int
	strict   bool
}

// readSnapshot reads the regular file at path, or returns nil when there is none. It does
// not follow a symbolic link: renaming over one would replace the link, not its target.
func readSnapshot(path string) (*snapshot, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link; name the file it points to", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	st, _ := info.Sys().(*syscall.Stat_t)
	s := &snapshot{data: data, mode: info.Mode().Perm(), uid: -1, gid: -1}
	if st != nil {
		s.uid, s.gid = int(st.Uid), int(st.Gid)
	}
	return s, nil
}

// changed reports whether f differs from what is on disk: its bytes (by SHA-256), or a
// mode or owner the configuration sets.
func (f *file) changed(own owner) bool {
	if f.old == nil {
		return true
	}
	if sha256.Sum256(f.old.data) != sha256.Sum256(f.data) &&
		(f.equivalent == nil || !f.equivalent(f.old.data)) {
		return true
	}
	return f.mode != 0 && f.mode != f.old.mode ||
		own.uid >= 0 && own.uid != f.old.uid || own.gid >= 0 && own.gid != f.old.gid
}

// newMode is the mode f is written with.
func (f *file) newMode() fs.FileMode {
	switch {
	case f.mode != 0:
		return f.mode
	case f.old != nil:
		return f.old.mode
	}
	return f.defaultMode
}

// newOwner is who f is written for: the configured user and group, else those it had.
// Keeping them must work for root; an agent that is not root keeps what it can.
func (f *file) newOwner(configured owner) owner {
	own := configured
	if f.old == nil {
		return own
	}
	if own.uid < 0 {
		own.uid = f.old.uid
	}
	if own.gid < 0 {
		own.gid = f.old.gid
	}
	own.strict = configured.uid >= 0 || configured.gid >= 0 || os.Geteuid() == 0
	return own
}

// writeAtomic replaces path with data: a temporary file in the same directory, written,
// synced and given its mode and owner, is renamed over path, and the directory synced.
// A reader sees the old file or the new one, never a part. replaced reports whether the
// rename happened, also when syncing the directory after it failed.
func writeAtomic(path string, data []byte, mode fs.FileMode, own owner) (replaced bool,
	err error) {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".certctl-*")
	if err != nil {
		return false, err
	}
	defer func() {
		if !replaced {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return false, err
	}
	if err = chown(f, own); err != nil {
		return false, err
	}
	// After chown, which may clear mode bits.
	if err = f.Chmod(mode); err != nil {
		return false, err
	}
	if err = f.Sync(); err != nil {
		return false, err
	}
	if err = f.Close(); err != nil {
		return false, err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return false, err
	}
	return true, syncDir(dir)
}

func chown(f *os.File, own owner) error {
	if own.uid < 0 && own.gid < 0 {
		return nil
	}
	if err := f.Chown(own.uid, own.gid); err != nil && own.strict {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// restore puts back what f replaced: the old file with its mode and owner, or no file.
func (f *file) restore() error {
	if f.old == nil {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return syncDir(filepath.Dir(f.path))
	}
	own := owner{uid: f.old.uid, gid: f.old.gid, strict: os.Geteuid() == 0}
	_, err := writeAtomic(f.path, f.old.data, f.old.mode, own)
	return err
}

// backupName matches the names backup gives: <file>.<UTC time>[-n].
var backupName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z(-\d+)?$`)

// backup copies the old version of f into BackupDir beside it, with its mode and owner,
// and removes all but the newest keep backups of f. It returns the backup's path.
func (f *file) backup(now time.Time, keep int) (string, error) {
	dir, base := filepath.Split(f.path)
	dir = filepath.Join(dir, BackupDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	if info, err := os.Lstat(dir); err != nil || !info.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	name := base + "." + now.UTC().Format("20060102T150405.000000000Z")
	path := filepath.Join(dir, name)
	for n := 1; exists(path); n++ {
		path = filepath.Join(dir, name+"-"+strconv.Itoa(n))
	}
	own := owner{uid: f.old.uid, gid: f.old.gid}
	if _, err := writeAtomic(path, f.old.data, f.old.mode, own); err != nil {
		return "", err
	}
	return path, prune(dir, base, keep)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// prune removes all but the newest keep backups of the file named base from dir.
func prune(dir, base string, keep int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var backups []string
	for _, e := range entries {
		stamp, ok := strings.CutPrefix(e.Name(), base+".")
		if ok && e.Type().IsRegular() && backupName.MatchString(stamp) {
			backups = append(backups, e.Name())
		}
	}
	// The fixed-width time stamps sort in time order.
	slices.Sort(backups)
	for len(backups) > keep {
		if err := os.Remove(filepath.Join(dir, backups[0])); err != nil {
			return err
		}
		backups = backups[1:]
	}
	return nil
}

// confine checks that path, with the symbolic links of its existing directories resolved,
// still lies inside roots (resolved too), so that a link cannot lead a write elsewhere.
func confine(path string, roots []string) error {
	dir, rest := filepath.Dir(path), filepath.Base(path)
	for !exists(dir) && dir != "/" {
		dir, rest = filepath.Dir(dir), filepath.Join(filepath.Base(dir), rest)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	var realRoots []string
	for _, r := range roots {
		if rr, err := filepath.EvalSymlinks(r); err == nil {
			r = rr
		}
		realRoots = append(realRoots, r)
	}
	if full := filepath.Join(real, rest); !inside(full, realRoots) {
		return fmt.Errorf("%s leads to %s, outside the allowed paths", path, full)
	}
	return nil
}

// lookupOwner resolves the configured owner and group, names or numeric IDs, on this host.
// An unset one is -1.
func lookupOwner(userName, groupName string) (owner, error) {
	own := owner{uid: -1, gid: -1, strict: true}
	var err error
	if userName != "" {
		own.uid, err = lookupID(userName, func(n string) (string, error) {
			u, err := user.Lookup(n)
			if err != nil {
				return "", err
			}
			return u.Uid, nil
		})
		if err != nil {
			return own, fmt.Errorf("owner %s: %w", userName, err)
		}
	}
	if groupName != "" {
		own.gid, err = lookupID(groupName, func(n string) (string, error) {
			g, err := user.LookupGroup(n)
			if err != nil {
				return "", err
			}
			return g.Gid, nil
		})
		if err != nil {
			return own, fmt.Errorf("group %s: %w", groupName, err)
		}
	}
	return own, nil
}

// lookupID returns name as a number, or the ID lookup finds for it.
func lookupID(name string, lookup func(string) (string, error)) (int, error) {
	if id, err := strconv.Atoi(name); err == nil {
		return id, nil
	}
	id, err := lookup(name)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(id)
}
