package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// flagSet is a flag.FlagSet whose every flag may also be set by an
// environment variable named after it (see envName); a flag given on the
// command line beats its variable. A flag is one line: fs.String(...),
// fs.Bool(...), fs.Duration(...), or fs.intMin, fs.choice, fs.level, fs.addr below.
type flagSet struct {
	*flag.FlagSet
	usage string          // synopsis and description, printed before the flags
	given map[string]bool // flags set by the command line or a variable
}

func newFlagSet(name, usage string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {} // parse prints the usage itself (stdout for --help)
	fs.SetOutput(io.Discard)
	return &flagSet{FlagSet: fs, usage: usage, given: map[string]bool{}}
}

// envName is the environment variable of a flag: --camunda8-url is
// BATCHQL_CAMUNDA8_URL.
func envName(flag string) string {
	return "BATCHQL_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// isSet says whether the flag was given on the command line or by its
// environment variable (valid after parse).
func (fs *flagSet) isSet(name string) bool { return fs.given[name] }

func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprint(w, fs.usage)
	fmt.Fprint(w, "\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if arg != "" {
			head += " " + arg
		}
		notes := []string{"env " + envName(f.Name)}
		if f.DefValue != "" && (f.DefValue != "0" || arg == "n") {
			notes = append(notes, "default "+f.DefValue)
		}
		fmt.Fprintf(w, "%s  (%s)\n        %s\n", head, strings.Join(notes, ", "), help)
	})
	fmt.Fprint(w, "\nA flag given on the command line beats its environment variable.\n")
}

// parse parses args and then the environment. It returns a non-negative
// exit code when the command should stop (after --help, or on an error).
func (fs *flagSet) parse(args []string, std *Stdio, getenv func(string) string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.printUsage(std.Out)
			return ExitOK
		}
		fmt.Fprintf(std.Err, "batchql %s: %s\n\n", fs.Name(), fs.explain(err))
		fs.printUsage(std.Err)
		return ExitUsage
	}
	fs.Visit(func(f *flag.Flag) { fs.given[f.Name] = true })
	code := -1
	fs.VisitAll(func(f *flag.Flag) { // in name order
		v := getenv(envName(f.Name))
		if code >= 0 || fs.given[f.Name] || v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			fmt.Fprintf(std.Err, "batchql %s: invalid value %q for environment variable %s (--%s): %v\n",
				fs.Name(), v, envName(f.Name), f.Name, cleanFlagErr(err))
			code = ExitUsage
		}
		fs.given[f.Name] = true
	})
	return code
}

// flagRef is where the flag package names a flag with one dash.
var flagRef = regexp.MustCompile(`^(flag needs an argument: |invalid (?:boolean )?value ".*" for (?:flag )?)-`)

// explain rewrites a flag.Parse error: flags are named with two dashes, and
// an unknown flag gets the closest real one as a hint.
func (fs *flagSet) explain(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		msg = "flag provided but not defined: --" + name
		if s := fs.suggest(name); s != "" {
			msg += " (did you mean --" + s + "?)"
		}
		return msg
	}
	return flagRef.ReplaceAllString(msg, "${1}--")
}

// flagAliases are names people try for a flag, by the flag.
var flagAliases = map[string][]string{
	"addr": {"port", "listen", "address", "host", "bind", "http"},
	"db":   {"database", "file", "path", "db-file", "db-path", "data"},
}

// suggest returns the defined flag closest to the unknown name: one it is
// an alias of, else the nearest by edit distance (at most a third of the
// name) or one the name is a prefix of; "" when none is close.
func (fs *flagSet) suggest(name string) string {
	name = strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	best, bestDist := "", len(name)/3+1
	fs.VisitAll(func(f *flag.Flag) {
		switch d := editDistance(name, f.Name); {
		case slices.Contains(flagAliases[f.Name], name):
			best, bestDist = f.Name, -1
		case d < bestDist:
			best, bestDist = f.Name, d
		case bestDist > 0 && len(name) >= 3 && strings.HasPrefix(f.Name, name):
			best, bestDist = f.Name, 0
		}
	})
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// cleanFlagErr turns strconv's "strconv.ParseInt: parsing "x": invalid
// syntax" into "invalid syntax".
func cleanFlagErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "strconv.") {
		return msg[i+2:]
	}
	return msg
}

// value is a flag.Value made of a printer and a parser.
type value struct {
	get func() string
	set func(string) error
}

func (v value) String() string {
	if v.get == nil { // the zero value flag.isZeroValue makes
		return ""
	}
	return v.get()
}

func (v value) Set(s string) error { return v.set(s) }

// intMin is an int flag that must be at least min.
func (fs *flagSet) intMin(name string, def, min int, usage string) *int {
	p := &def
	fs.Var(value{func() string { return strconv.Itoa(*p) }, func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if n < min {
			return fmt.Errorf("must be at least %d", min)
		}
		*p = n
		return nil
	}}, name, usage)
	return p
}

// choice is a string flag limited to some values.
func (fs *flagSet) choice(name, def string, allowed []string, usage string) *string {
	p := &def
	fs.Var(value{func() string { return *p }, func(s string) error {
		if !slices.Contains(allowed, s) {
			return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
		}
		*p = s
		return nil
	}}, name, usage)
	return p
}

// level is a slog level flag: debug, info, warn or error.
func (fs *flagSet) level(name string, def slog.Level, usage string) *slog.Level {
	p := &def
	fs.Var(value{func() string { return strings.ToLower(p.String()) }, func(s string) error {
		switch strings.ToLower(s) {
		case "debug", "info", "warn", "error":
		default:
			return fmt.Errorf("must be debug, info, warn or error")
		}
		return p.UnmarshalText([]byte(s))
	}}, name, usage)
	return p
}

// addr is a listen address flag, host:port with a numeric port (0 picks a
// free one); optional ones may be empty.
func (fs *flagSet) addr(name, def string, optional bool, usage string) *string {
	p := &def
	fs.Var(value{func() string { return *p }, func(s string) error {
		if s == "" && optional {
			*p = s
			return nil
		}
		_, port, err := net.SplitHostPort(s)
		if err != nil {
			if _, nerr := strconv.Atoi(s); nerr == nil {
				return fmt.Errorf("want host:port, e.g. :%s (all interfaces) or 127.0.0.1:%s", s, s)
			}
			return fmt.Errorf("want host:port, e.g. :8080 (all interfaces) or 127.0.0.1:8080")
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("want host:port with a port from 0 to 65535, e.g. :8080 (got port %q)", port)
		}
		*p = s
		return nil
	}}, name, usage)
	return p
}
