// Package deploy writes certificates where the servers of an agent's host read them, and
// proves the change: it writes the files of a target atomically with backups, runs the
// target's validate and reload commands without a shell, checks with a TLS handshake that
// the new certificate is served, and puts the old files back when any of that fails.
//
// The target types and their configuration fields are described in docs/agents.md. Check
// is the same validation the server runs when a target is saved and Deploy runs again on
// the agent, against the agent's own allowed paths.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"certctl/app/agentapi"
)

// Options tune Deploy. The zero value means the defaults.
type Options struct {
	// Log gets a debug line per step, and an error when a rollback leaves a target in
	// doubt; nil discards.
	Log *slog.Logger
	// Now is the clock of the report and of backup names; nil means time.Now.
	Now func() time.Time
	// Backups is how many replaced versions of each file BackupDir keeps: 0 means 3, a
	// negative number none (a failed deployment still restores the old files).
	Backups int
	// CommandTimeout bounds each validate and reload command: 0 means 60 seconds. A
	// target's command_timeout_seconds wins.
	CommandTimeout time.Duration
	// VerifyTimeout bounds the wait for the new certificate to be served: 0 means 30
	// seconds.
	VerifyTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Backups == 0 {
		o.Backups = 3
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 60 * time.Second
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = 30 * time.Second
	}
	return o
}

// Deploy writes m to the target of type typ configured by config, and reports each step.
// It checks config again first, with Check against allowedPaths (the agent's own), and
// checks that the certificate belongs to the key before it touches anything.
//
// When every file already holds what it would write, no command runs and the result is
// "unchanged", unless the target has verify and its endpoint serves something else: then
// the reload command runs, and the result is "deployed" once the endpoint serves the
// certificate, "failed" if it still does not. Otherwise it backs up the files it replaces
// into BackupDir beside them, writes each atomically, runs the validate command, then the
// reload command, and with verify makes handshakes until the new leaf is served. When one
// of these fails it puts the old files back (atomically again), reloads once more, and
// reports "rolled_back"; when putting them back fails too, "failed".
//
// Deploy never panics, and never puts the private key or a keystore password into the
// report or the log. Deployments that write the same files must not run at once.
func Deploy(ctx context.Context, typ string, config []byte, allowedPaths []string,
	m Material, opt Options) agentapi.Report {
	d := &deployment{opt: opt.withDefaults()}
	d.log = d.opt.Log.With("component", "deploy", "target_type", typ)
	d.rep.StartedAt = d.opt.Now()
	func() {
		defer d.recoverPanic()
		d.run(ctx, typ, config, allowedPaths, m)
	}()
	d.rep.FinishedAt = d.opt.Now()
	return d.rep
}

// deployment is the state of one Deploy.
type deployment struct {
	opt      Options
	log      *slog.Logger
	rep      agentapi.Report
	redactor redactor
	own      owner
	written  []*file // files replaced so far, in order
}

func (d *deployment) run(ctx context.Context, typ string, config []byte, allowed []string,
	m Material) {
	d.redactor.key = m.Key
	var t *target
	err := d.step("check", func() (detail string, err error) {
		t, err = parse(typ, config, allowed)
		return "", err
	})
	if err != nil {
		d.finish(agentapi.ResultFailed, err)
		return
	}
	d.redactor.password = t.password
	var files []*file
	var mat *material
	err = d.step("prepare", func() (detail string, err error) {
		mat, files, detail, err = d.prepare(t, m, cleanRoots(allowed))
		return detail, err
	})
	if err != nil {
		d.finish(agentapi.ResultFailed, err)
		return
	}
	if len(files) == 0 {
		d.unchanged(ctx, t, mat)
		return
	}
	if err := d.step("backup", func() (string, error) { return d.backup(files) }); err != nil {
		d.finish(agentapi.ResultFailed, err)
		return
	}
	if err := d.step("write", func() (string, error) { return d.write(files) }); err != nil {
		d.rollback(ctx, t, err, false)
		return
	}
	if err := d.apply(ctx, t, mat); err != nil {
		d.rollback(ctx, t, err, true)
		return
	}
	d.rep.Result = agentapi.ResultDeployed
}

// prepare checks the material, lays out t's files and reads what is on disk. It returns
// the files that differ from it.
func (d *deployment) prepare(t *target, m Material, roots []string) (*material, []*file,
	string, error) {
	mat, err := newMaterial(m)
	if err != nil {
		return nil, nil, "", err
	}
	if d.own, err = lookupOwner(t.owner, t.group); err != nil {
		return nil, nil, "", err
	}
	files, err := t.render(mat)
	if err != nil {
		return nil, nil, "", err
	}
	var changed []*file
	var names []string
	for _, f := range files {
		if err := confine(f.path, roots); err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", f.field, err)
		}
		if f.old, err = readSnapshot(f.path); err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", f.field, err)
		}
		if f.changed(d.own) {
			changed = append(changed, f)
			names = append(names, f.path)
		}
	}
	detail := fmt.Sprintf("serial %s; %d of %d files differ from what is on disk",
		mat.leaf.SerialNumber.Text(16), len(changed), len(files))
	if len(names) > 0 {
		detail += ": " + strings.Join(names, ", ")
	}
	return mat, changed, detail, nil
}

func (d *deployment) backup(files []*file) (string, error) {
	if d.opt.Backups < 0 {
		return "backups are off", nil
	}
	var lines []string
	for _, f := range files {
		if f.old == nil {
			continue
		}
		path, err := f.backup(d.opt.Now(), d.opt.Backups)
		if err != nil {
			return strings.Join(lines, "\n"), fmt.Errorf("back up %s: %w", f.field, err)
		}
		lines = append(lines, f.path+" -> "+path)
	}
	if len(lines) == 0 {
		return "no file to back up", nil
	}
	return strings.Join(lines, "\n"), nil
}

func (d *deployment) write(files []*file) (string, error) {
	var names []string
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return strings.Join(names, ", "), fmt.Errorf("%s: %w", f.field, err)
		}
		replaced, err := writeAtomic(f.path, f.data, f.newMode(), f.newOwner(d.own))
		if replaced {
			d.written = append(d.written, f)
			names = append(names, fmt.Sprintf("%s (%04o)", f.path, f.newMode()))
		}
		if err != nil {
			return strings.Join(names, ", "), fmt.Errorf("%s: %w", f.field, err)
		}
	}
	return strings.Join(names, ", "), nil
}

// unchanged finishes a deployment whose files already hold the material. With verify, it
// still checks that the endpoint serves the certificate: a server that was not reloaded
// since the files were written, or a certificate put in place by hand, shows up here.
// When the endpoint serves something else, the reload command runs and the check is made
// again; the files are the right ones, so there is nothing to roll back.
func (d *deployment) unchanged(ctx context.Context, t *target, mat *material) {
	if t.verify == nil {
		d.rep.Result = agentapi.ResultUnchanged
		return
	}
	err := d.step("verify", func() (string, error) {
		serial, detail, err := verifyServed(ctx, t.verify, mat.leaf, unchangedVerifyTimeout)
		d.rep.Serial = serial
		return detail, err
	})
	if err == nil {
		d.rep.Result = agentapi.ResultUnchanged
		return
	}
	if len(t.reload) == 0 {
		d.finish(agentapi.ResultFailed, fmt.Errorf("the files hold the certificate, but the "+
			"endpoint does not serve it and the target has no reload command: %w", err))
		return
	}
	if err := d.command(ctx, "reload", t, t.reload); err != nil {
		d.finish(agentapi.ResultFailed, err)
		return
	}
	err = d.step("verify", func() (string, error) {
		serial, detail, err := verifyServed(ctx, t.verify, mat.leaf, d.opt.VerifyTimeout)
		d.rep.Serial = serial
		return detail, err
	})
	if err != nil {
		d.finish(agentapi.ResultFailed, err)
		return
	}
	d.rep.Result = agentapi.ResultDeployed
}

// unchangedVerifyTimeout bounds the check of a target whose files were already in place:
// its server has had all the time it needs to load them.
const unchangedVerifyTimeout = 3 * time.Second

// apply runs the validate and reload commands, then verifies.
func (d *deployment) apply(ctx context.Context, t *target, mat *material) error {
	for _, c := range []struct {
		name string
		argv []string
	}{{"validate", t.validate}, {"reload", t.reload}} {
		if len(c.argv) == 0 {
			continue
		}
		if err := d.command(ctx, c.name, t, c.argv); err != nil {
			return err
		}
	}
	if t.verify == nil {
		return nil
	}
	return d.step("verify", func() (string, error) {
		serial, detail, err := verifyServed(ctx, t.verify, mat.leaf, d.opt.VerifyTimeout)
		d.rep.Serial = serial
		return detail, err
	})
}

func (d *deployment) command(ctx context.Context, name string, t *target,
	argv []string) error {
	timeout := d.opt.CommandTimeout
	if t.timeoutSeconds > 0 {
		timeout = time.Duration(t.timeoutSeconds) * time.Second
	}
	return d.step(name, func() (string, error) {
		out, err := runCommand(ctx, argv, timeout)
		if err != nil {
			err = fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
		return out, err
	})
}

// rollback puts back the files written so far after cause, and with reload set runs the
// reload command again so that the server serves the old files.
func (d *deployment) rollback(ctx context.Context, t *target, cause error, reload bool) {
	if len(d.written) == 0 {
		d.finish(agentapi.ResultFailed, cause)
		return
	}
	if err := d.step("restore", d.restore); err != nil {
		d.log.Error("deployment failed and the old files could not be put back",
			"error", d.redactor.clean(err.Error()))
		d.finish(agentapi.ResultFailed, fmt.Errorf("%w; %w", cause, err))
		return
	}
	if reload && len(t.reload) > 0 {
		// Also when the deployment was cancelled: the server must not keep the new files
		// loaded.
		if err := d.command(context.WithoutCancel(ctx), "reload", t, t.reload); err != nil {
			d.log.Error("old files restored, but the reload after it failed",
				"error", d.redactor.clean(err.Error()))
			cause = fmt.Errorf("%w; after restoring the old files, %w", cause, err)
		}
	}
	d.finish(agentapi.ResultRolledBack, cause)
}

// restore puts back every file written, the last first.
func (d *deployment) restore() (string, error) {
	var done []string
	var errs []error
	for i := len(d.written) - 1; i >= 0; i-- {
		f := d.written[i]
		if err := f.restore(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.field, err))
			continue
		}
		if f.old == nil {
			done = append(done, f.path+" removed (it was new)")
		} else {
			done = append(done, f.path+" restored")
		}
	}
	return strings.Join(done, "\n"), errors.Join(errs...)
}

// step runs fn as the step name and records it. The error it returns names the step.
func (d *deployment) step(name string, fn func() (string, error)) error {
	start := d.opt.Now()
	detail, err := fn()
	s := agentapi.Step{Name: name, OK: err == nil,
		DurationMS: d.opt.Now().Sub(start).Milliseconds()}
	if err != nil {
		detail = strings.TrimSpace(err.Error() + "\n" + detail)
		err = fmt.Errorf("%s: %w", name, err)
	}
	s.Detail = d.redactor.clean(detail)
	d.rep.Steps = append(d.rep.Steps, s)
	d.log.Debug("deploy step", "step", name, "ok", s.OK,
		"duration", time.Duration(s.DurationMS)*time.Millisecond)
	return err
}

func (d *deployment) finish(result string, err error) {
	d.rep.Result = result
	if err != nil {
		d.rep.Error = d.redactor.clean(err.Error())
	}
}

// recoverPanic turns a panic into a failed report, after trying to put back what was
// written.
func (d *deployment) recoverPanic() {
	p := recover()
	if p == nil {
		return
	}
	err := fmt.Errorf("internal error: %v", p)
	if len(d.written) > 0 {
		func() {
			defer func() { recover() }()
			if _, rerr := d.restore(); rerr != nil {
				err = fmt.Errorf("%w; restore: %w", err, rerr)
			}
		}()
	}
	d.log.Error("deployment panicked", "error", d.redactor.clean(err.Error()))
	d.finish(agentapi.ResultFailed, err)
}
