package deploy

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// maxOutput is how much of a command's output a step keeps: the end, where tools print
// their verdict.
const maxOutput = 2048

// runCommand runs argv without a shell, in a process group of its own, and returns its
// combined output (at most maxOutput bytes, the end). When timeout passes or ctx ends the
// whole group is killed, so that children a hanging command forked cannot keep the
// deployment waiting.
func runCommand(ctx context.Context, argv []string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A child that left the group, or a daemon the command started, may hold the output
	// open: stop reading it this long after the command ended.
	cmd.WaitDelay = 2 * time.Second
	out := &tail{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out

	err := cmd.Run()
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success():
		err = nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("timed out after %s", timeout)
	case ctx.Err() != nil:
		err = fmt.Errorf("stopped: %w", ctx.Err())
	}
	return out.String(), err
}

// tail keeps the last max bytes written to it.
type tail struct {
	max  int
	buf  []byte
	lost int
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.lost += over
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String is the output kept, valid UTF-8, marked when its start was cut.
func (t *tail) String() string {
	s := strings.ToValidUTF8(string(t.buf), "\uFFFD")
	if t.lost > 0 {
		return fmt.Sprintf("[%d bytes before this cut]\n%s", t.lost, s)
	}
	return s
}
