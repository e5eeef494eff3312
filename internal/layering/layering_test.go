package layering

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/tapsettle/tapsettle"

// rule is one row of the README's Layout table.
type rule struct {
	pkg   string   // folder relative to the module root, e.g. "stream/segment"
	allow []string // folders it may import; "internal/*" allows every internal package
	any   bool     // may import every package of the module
	line  int      // README line, for messages
	row   int      // position in the table: a row may only allow rows above it
}

func (r *rule) allows(dep string) bool {
	if r.any {
		return true
	}
	for _, a := range r.allow {
		if a == dep || strings.HasSuffix(a, "/*") && strings.HasPrefix(dep, strings.TrimSuffix(a, "*")) {
			return true
		}
	}
	return false
}

// readLayout parses the table under "## Layout" in README.md: rows of
// "| `pkg` | what it holds | `dep`, `dep` |", where the last cell lists the
// module's packages the row's package may import ("—" for none, "any" for
// every one). A row may name several packages ("`a`, `b`") sharing one rule.
func readLayout(t *testing.T, readme string) map[string]*rule {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules := map[string]*rule{}
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Layout"
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("README.md:%d: a Layout row has %d cells, want 3 (package, what it holds, may import)", n, len(cells))
		}
		deps := strings.TrimSpace(cells[2])
		r := &rule{line: n, row: len(rules)}
		switch deps {
		case "any":
			r.any = true
		case "—", "-", "":
		default:
			r.allow = codeSpans(deps)
			if len(r.allow) == 0 {
				t.Fatalf("README.md:%d: the may-import cell %q names no package in backquotes", n, deps)
			}
		}
		for _, p := range codeSpans(cells[0]) {
			if _, dup := rules[p]; dup {
				t.Fatalf("README.md:%d: package %s has a second row", n, p)
			}
			rules[p] = r
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal("README.md has no Layout table")
	}
	return rules
}

// codeSpans returns the text of each `...` in s.
func codeSpans(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i+1:], '`')
		if j < 0 {
			return out
		}
		out = append(out, s[i+1:i+1+j])
		s = s[i+1+j+1:]
	}
}

// imports returns, for each package folder of the module, the module's
// packages its non-test files import. Test files may import more (a
// test compares a stage with the batch job, say): the layering is about
// what the product links.
func imports(t *testing.T, root string) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		deps := pkgs[pkg]
		for _, im := range f.Imports {
			ip, _ := strconv.Unquote(im.Path.Value)
			if dep, ok := strings.CutPrefix(ip, module+"/"); ok && !slices.Contains(deps, dep) {
				deps = append(deps, dep)
			}
		}
		pkgs[pkg] = deps
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// check returns what is wrong with pkgs' imports against rules.
func check(rules map[string]*rule, pkgs map[string][]string) []string {
	var errs []string
	for pkg, deps := range pkgs {
		r, ok := rules[pkg]
		if !ok {
			errs = append(errs, fmt.Sprintf("package %s is not in the README's Layout table: add a row saying what it holds and what it may import", pkg))
			continue
		}
		for _, dep := range deps {
			if !r.allows(dep) {
				errs = append(errs, fmt.Sprintf("%s imports %s, which its Layout row (README.md:%d) does not allow: import downwards only, or change the documented layering", pkg, dep, r.line))
			}
		}
	}
	for pkg, r := range rules {
		if _, ok := pkgs[pkg]; !ok {
			errs = append(errs, fmt.Sprintf("README.md:%d: the Layout table names %s, which is not a package of the module", r.line, pkg))
		}
		for _, a := range r.allow {
			if _, ok := pkgs[a]; !ok && !strings.HasSuffix(a, "/*") {
				errs = append(errs, fmt.Sprintf("README.md:%d: %s may import %s, which is not a package of the module", r.line, pkg, a))
			}
			if ra, ok := rules[a]; ok && ra.row >= r.row {
				errs = append(errs, fmt.Sprintf("README.md:%d: %s may import %s, which is not above it in the table: the table lists the layers bottom-up", r.line, pkg, a))
			}
		}
	}
	slices.Sort(errs)
	return errs
}

// TestLayout: every package is in the README's Layout table, every row
// names a package, and no package imports one its row does not allow.
func TestLayout(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, e := range check(readLayout(t, filepath.Join(root, "README.md")), imports(t, root)) {
		t.Error(e)
	}
}

// TestCheck: the checker finds an upward import, a package without a row
// and a row without a package.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	table := "# x\n\n## Layout\n\n| package | holds | may import |\n|---|---|---|\n" +
		"| `transit` | types | — |\n" +
		"| `engine` | pricing | `transit`, `internal/*` |\n" +
		"| `internal/a`, `internal/b` | helpers | — |\n" +
		"| `gone` | nothing | `cmd/x` |\n" +
		"| `cmd/x` | the binary | any |\n\n## Next\n| `ignored` | x | y |\n"
	if err := os.WriteFile(readme, []byte(table), 0o600); err != nil {
		t.Fatal(err)
	}
	rules := readLayout(t, readme)
	got := check(rules, map[string][]string{
		"transit":    {"engine"},                // upwards
		"engine":     {"transit", "internal/b"}, // allowed
		"internal/a": nil,
		"internal/b": nil,
		"cmd/x":      {"engine", "transit", "new"},
		"new":        nil, // no row
	})
	want := []string{
		"README.md:10: gone may import cmd/x, which is not above it in the table: the table lists the layers bottom-up",
		"README.md:10: the Layout table names gone, which is not a package of the module",
		"package new is not in the README's Layout table: add a row saying what it holds and what it may import",
		"transit imports engine, which its Layout row (README.md:7) does not allow: import downwards only, or change the documented layering",
	}
	if !slices.Equal(got, want) {
		t.Errorf("check found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
