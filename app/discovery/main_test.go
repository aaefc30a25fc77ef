package discovery

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"certctl/app/agentapi"
)

// childDirVar, when set, makes the test binary scan that directory, print the report as
// JSON and exit: scanAsNobody runs it so.
const childDirVar = "CERTCTL_DISCOVERY_TEST_SCAN"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirVar); dir != "" {
		json.NewEncoder(os.Stdout).Encode(Scan(context.Background(), []string{dir},
			Options{}))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// scanAsNobody scans dir in a copy of the test binary running as the user nobody. Every
// directory from the test's temporary root down to dir is opened to others, and the copy
// lives there too, since the build directory is root's alone.
func scanAsNobody(t *testing.T, dir string) agentapi.Discovery {
	t.Helper()
	root := filepath.Dir(t.TempDir())
	for d := dir; strings.HasPrefix(d, root); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "discovery.test")
	copyFile(t, os.Args[0], bin)
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{childDirVar + "=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534,
		Gid: 65534}}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scan as nobody: %v", err)
	}
	var d agentapi.Discovery
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("scan as nobody: %v: %s", err, out)
	}
	return d
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
