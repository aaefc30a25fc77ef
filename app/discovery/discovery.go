// Package discovery finds certificates in files on the agent's host: PEM files of any name
// (chains included), DER files and PKCS#12 bundles without a password. It reports them in
// the wire form the server stores and never puts private key material in its result: a
// key beside a certificate is only noted as KeyFound.
//
// A scan never stops on a bad file. Unreadable files, directories it cannot list, damaged
// certificates and password-protected bundles become ScanProblems, and the walk goes on.
// Files that hold no certificate (keys, text, binaries) are skipped without a word, unless
// their name promises one (.pem, .crt, .cer, .der, .p12, .pfx): those are reported when
// they do not parse.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"certctl/app/agentapi"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxDepth    = 8
	DefaultMaxFiles    = 10_000
	DefaultMaxFileSize = 1 << 20
)

// Options bound a scan. A zero field takes its default.
type Options struct {
	// MaxDepth is how many directory levels below each scanned directory are entered.
	MaxDepth int
	// MaxFiles is how many entries (files, directories, links) are looked at under each
	// scanned directory before its walk stops.
	MaxFiles int
	// MaxFileSize is the largest file read, in bytes.
	MaxFileSize int64
	// Now is the clock for StartedAt and FinishedAt.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Scan walks each directory in dirs and reports every certificate it finds. Links to files
// are followed, links to directories are not: they can lead out of the tree or round in a
// loop. Devices, pipes and sockets are never opened. A directory in dirs may itself be a
// link, or a single file.
//
// A cancelled ctx stops the scan: the report then holds what was found so far and a
// problem saying where it stopped.
func Scan(ctx context.Context, dirs []string, opts Options) agentapi.Discovery {
	opts = opts.withDefaults()
	out := agentapi.Discovery{
		Directories:  slices.Clone(dirs),
		Certificates: []agentapi.Discovered{},
		StartedAt:    opts.Now().UTC(),
	}
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			out.Errors = append(out.Errors, agentapi.ScanProblem{
				Location: dir, Error: "not scanned: " + err.Error()})
			continue
		}
		if dir == "" {
			out.Errors = append(out.Errors, agentapi.ScanProblem{Error: "empty directory name"})
			continue
		}
		w := &walker{ctx: ctx, opts: opts, out: &out, budget: opts.MaxFiles}
		w.root(filepath.Clean(dir))
	}
	out.FinishedAt = opts.Now().UTC()
	return out
}

// walker scans the tree under one directory.
type walker struct {
	ctx     context.Context
	opts    Options
	out     *agentapi.Discovery
	budget  int // entries still to look at
	stopped bool
}

func (w *walker) problem(location, why string) {
	w.out.Errors = append(w.out.Errors, agentapi.ScanProblem{Location: location, Error: why})
}

// stop ends the walk, recording why at location.
func (w *walker) stop(location, why string) {
	w.problem(location, why)
	w.stopped = true
}

func (w *walker) root(dir string) {
	// Stat, not Lstat: a linked root is followed because the administrator named it.
	info, err := os.Stat(dir)
	if err != nil {
		w.problem(dir, reason(err))
		return
	}
	switch {
	case info.IsDir():
		w.dir(dir, 0)
	case info.Mode().IsRegular():
		w.file(dir, info.Size())
	default:
		w.problem(dir, "not a directory or regular file")
	}
}

func (w *walker) dir(dir string, depth int) {
	entries, err := readDir(dir, w.budget+1)
	if err != nil {
		w.problem(dir, reason(err))
	}
	for _, e := range entries {
		if w.stopped {
			return
		}
		if err := w.ctx.Err(); err != nil {
			w.stop(dir, "scan stopped: "+err.Error())
			return
		}
		if w.budget == 0 {
			w.stop(dir, fmt.Sprintf("scan stopped after %d entries, the limit", w.opts.MaxFiles))
			return
		}
		w.budget--
		w.entry(filepath.Join(dir, e.Name()), e, depth)
	}
}

// entry looks at one directory entry found depth levels below the root. Devices, pipes and
// sockets fall through: reading one could block or have side effects.
func (w *walker) entry(path string, e fs.DirEntry, depth int) {
	mode := e.Type()
	switch {
	case mode.IsDir():
		if depth+1 > w.opts.MaxDepth {
			w.problem(path, fmt.Sprintf("deeper than %d levels; not scanned", w.opts.MaxDepth))
			return
		}
		w.dir(path, depth+1)
	case mode&fs.ModeSymlink != 0:
		info, err := os.Stat(path)
		if err != nil {
			w.problem(path, "broken link: "+reason(err))
			return
		}
		if info.Mode().IsRegular() {
			w.file(path, info.Size())
		}
	case mode.IsRegular():
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return // removed since the directory was read
		}
		if err != nil {
			w.problem(path, reason(err))
			return
		}
		w.file(path, info.Size())
	}
}

// readDir returns up to max entries of dir, sorted by name so that repeated scans report
// in the same order. Reading in batches keeps a huge directory from being listed whole.
func readDir(dir string, max int) ([]fs.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	var entries []fs.DirEntry
	for len(entries) < max {
		batch, err := f.ReadDir(min(max-len(entries), 1024))
		entries = append(entries, batch...)
		if errors.Is(err, io.EOF) || (err == nil && len(batch) == 0) {
			break
		}
		if err != nil {
			slices.SortFunc(entries, byName)
			return entries, err
		}
	}
	slices.SortFunc(entries, byName)
	return entries, nil
}

func byName(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) }

// reason is the short form of a file system error: the operation and the cause, since the
// problem's Location already names the path.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}
