package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// errHelped reports that a subcommand printed its help; the command then succeeds.
var errHelped = errors.New("help printed")

// command is one client subcommand: its flags and the one-line usage shown with errors
// and help.
type command struct {
	name  string // e.g. "certs list"
	usage string // the arguments after the name
	fs    *flag.FlagSet
}

func newCommand(name, usage string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &command{name: name, usage: usage, fs: fs}
}

// parse reads flags and positional arguments in any order: flags may come before or after
// the positional arguments, and "--" ends the flags. A parse error is a *usageError naming
// the flag's problem; -h prints the flags and returns errHelped.
func (c *command) parse(env Env, args []string) ([]string, error) {
	var positional []string
	for {
		err := c.fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.help(env.Stdout)
			return nil, errHelped
		}
		if err != nil {
			return nil, c.usageErr(err.Error())
		}
		rest := c.fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parseID parses args that must hold exactly one positional ID.
func (c *command) parseID(env Env, args []string) (string, error) {
	pos, err := c.parse(env, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", c.usageErr(fmt.Sprintf("want one certificate ID, got %d arguments",
			len(pos)))
	}
	return pos[0], nil
}

// parseNone parses args that must hold flags only.
func (c *command) parseNone(env Env, args []string) error {
	pos, err := c.parse(env, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return c.usageErr(fmt.Sprintf("unexpected argument %q", pos[0]))
	}
	return nil
}

func (c *command) usageErr(problem string) error {
	return &usageError{fmt.Sprintf("%s: %s (usage: certctl %s %s)", c.name, problem, c.name,
		c.usage)}
}

func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "usage: certctl %s %s\n", c.name, c.usage)
	c.fs.SetOutput(w)
	c.fs.PrintDefaults()
	c.fs.SetOutput(io.Discard)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// choice is a string flag limited to a few values.
type choice struct {
	value   string
	allowed []string
}

func (c *choice) String() string { return c.value }

func (c *choice) Set(v string) error {
	for _, a := range c.allowed {
		if v == a {
			c.value = v
			return nil
		}
	}
	return fmt.Errorf("must be %s", strings.Join(c.allowed, " or "))
}

// outputFlag adds --output table|json to c.
func (c *command) outputFlag() *choice {
	out := &choice{value: "table", allowed: []string{"table", "json"}}
	c.fs.Var(out, "output", "output `format`: table for people, json for scripts")
	return out
}

// isJSON reports whether the output flag asks for JSON.
func (c *choice) isJSON() bool { return c.value == "json" }

// writeJSON prints raw JSON indented, followed by a newline.
func writeJSON(w io.Writer, raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return fmt.Errorf("format answer: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// writeJSONList prints items as one indented JSON array.
func writeJSONList(w io.Writer, items []json.RawMessage) error {
	if items == nil {
		items = []json.RawMessage{}
	}
	raw, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("format answer: %w", err)
	}
	return writeJSON(w, raw)
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// day formats a time as a date in UTC, or "-" when there is none.
func day(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}

// stamp formats a time in RFC 3339 UTC, or "-" when there is none.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// cell is s on one line, cut to at most n characters, or "-" when empty.
func cell(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-3]) + "..."
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}
