package fares

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// yamlFile is one policy file decoded strictly into the schema of
// policy_doc.go. The decoder walks the yaml.Node tree itself instead of
// using yaml.Unmarshal, for two reasons: it reports every problem of a file
// (not only the first), each with its line and key path; and it records the
// line of every key, so the semantic checks of compile.go can name the line
// of the value they reject.
type yamlFile struct {
	name  string
	lines map[string]int // key path -> 1-based line of the key or list item
	probs *problems
}

// decodeYAML decodes data into out (a pointer to a schema struct). Problems
// go to probs; the returned yamlFile locates key paths for later checks.
func decodeYAML(name string, data []byte, out any, probs *problems) *yamlFile {
	f := &yamlFile{name: name, lines: map[string]int{}, probs: probs}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			f.fail(0, "", ErrMissing, "the file is empty")
			return f
		}
		line, msg := splitYAMLError(err)
		f.fail(line, "", ErrSyntax, "%s", msg)
		return f
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		f.fail(extra.Line, "", ErrSyntax, "more than one YAML document in the file")
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		f.decode(root.Content[0], reflect.ValueOf(out).Elem(), "")
	}
	return f
}

// splitYAMLError extracts the line from yaml.v3's "yaml: line N: msg".
func splitYAMLError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	num, text, ok := strings.Cut(rest, ": ")
	if !ok {
		return 0, msg
	}
	line, err2 := strconv.Atoi(num)
	if err2 != nil {
		return 0, msg
	}
	return line, text
}

func (f *yamlFile) fail(line int, key string, sentinel error, format string, args ...any) {
	f.probs.add(f.name, line, key, sentinel, format, args...)
}

// line returns the line of key path p, or of its nearest recorded parent
// (a missing key is reported at the mapping that lacks it).
func (f *yamlFile) line(p string) int {
	for {
		if l, ok := f.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return f.lines[""]
		}
		p = p[:i]
	}
}

// failAt reports a problem at key path p.
func (f *yamlFile) failAt(p string, sentinel error, format string, args ...any) {
	f.fail(f.line(p), p, sentinel, format, args...)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var kindNames = map[yaml.Kind]string{
	yaml.DocumentNode: "document", yaml.SequenceNode: "list",
	yaml.MappingNode: "mapping", yaml.ScalarNode: "scalar", yaml.AliasNode: "alias",
}

// decode stores node n into v. Absent and null values leave v at its zero
// value, which the schema reads as "not given".
func (f *yamlFile) decode(n *yaml.Node, v reflect.Value, path string) {
	if _, seen := f.lines[path]; !seen {
		f.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		// Aliases could expand a small file into a huge one ("billion
		// laughs"); policy files are short enough not to need them.
		f.fail(n.Line, path, ErrType, "YAML aliases are not supported")
		return
	}
	if isNull(n) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		f.decode(n, nv.Elem(), path)
		v.Set(nv)
	case reflect.Struct:
		f.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			f.fail(n.Line, path, ErrType, "want a list, got a %s", kindNames[n.Kind])
			return
		}
		if len(n.Content) == 0 {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			f.lines[p] = item.Line
			f.decode(item, s.Index(i), p)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			f.fail(n.Line, path, ErrType, "want a string, got a %s", kindNames[n.Kind])
			return
		}
		if !utf8.ValidString(n.Value) {
			f.fail(n.Line, path, ErrInvalid, "not valid UTF-8")
			return
		}
		if i := strings.IndexFunc(n.Value, unicode.IsControl); i >= 0 {
			// Codes, dates, names and sources are one line of text; a
			// line break or other control character would garble every
			// listing of the policy (and yaml.Marshal cannot write some
			// of them back, e.g. a leading line break).
			r, _ := utf8.DecodeRuneInString(n.Value[i:])
			f.fail(n.Line, path, ErrInvalid, "control character %U at byte %d: strings are one line of text", r, i)
			return
		}
		// Any scalar reads as its text, so unquoted codes such as 330200
		// or 2020-01-01 need no quotes.
		v.SetString(n.Value)
	case reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			f.fail(n.Line, path, ErrType, "want a whole number, got %s", describeNode(n))
			return
		}
		x, err := strconv.ParseInt(n.Value, 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange):
			f.fail(n.Line, path, ErrType, "want a whole number, got one outside the 64-bit range")
			return
		case err != nil:
			f.fail(n.Line, path, ErrType, "want a whole number in decimal digits")
			return
		}
		v.SetInt(x)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			f.fail(n.Line, path, ErrType, "want true or false, got %s", describeNode(n))
			return
		}
		v.SetBool(b)
	default:
		// Unreachable with the schema of policy_doc.go; a new field type
		// must be added above.
		f.fail(n.Line, path, ErrType, "unsupported schema type %s", v.Type())
	}
}

// describeNode says what kind of value n is, never what it holds: a
// problem report must not echo a file's content (a "policy file" may be a
// link to a password or environment file, which YAML reads as one long
// string).
func describeNode(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return "a " + kindNames[n.Kind]
	}
	switch n.Tag {
	case "!!str":
		return "text"
	case "!!int":
		return "a whole number"
	case "!!float":
		return "a number with a fraction"
	case "!!bool":
		return "true or false"
	case "!!timestamp":
		return "a date"
	}
	return "a scalar of type " + strings.TrimPrefix(n.Tag, "!!")
}

func (f *yamlFile) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		f.fail(n.Line, path, ErrType, "want a mapping, got %s", describeNode(n))
		return
	}
	t := v.Type()
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			f.fail(k.Line, path, ErrType, "keys must be plain strings (no merge keys)")
			continue
		}
		p := join(path, shownKey(k.Value))
		if first, dup := seen[k.Value]; dup {
			f.fail(k.Line, p, ErrDuplicateKey, "first given on line %d", first)
			continue
		}
		seen[k.Value] = k.Line
		field, ok := fieldByTag(t, k.Value)
		if !ok {
			f.fail(k.Line, p, ErrUnknownKey, "%s allows %s", mappingName(path), strings.Join(tagNames(t), ", "))
			continue
		}
		f.lines[p] = k.Line
		f.decode(val, v.FieldByIndex(field.Index), p)
	}
}

func mappingName(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func tagName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	return name
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if sf := t.Field(i); sf.IsExported() && tagName(sf) == key {
			return sf, true
		}
	}
	return reflect.StructField{}, false
}

func tagNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if sf := t.Field(i); sf.IsExported() {
			names = append(names, tagName(sf))
		}
	}
	return names
}
