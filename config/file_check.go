package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// checkFile reads the configuration file before koanf does and refuses,
// in its own words, a file that is not a YAML mapping of keys. Its errors
// name the file, a line and at most the offending key, never a value:
// --config may point at the wrong file (an environment or password file,
// or a link to one), whose content must not reach a terminal or a log.
// The YAML library's own messages can quote content ("cannot unmarshal
// !!str `TAPSETT...`", "mapping key \"...\" already defined"), so only its
// syntax errors, which quote nothing, are passed on, and only their line
// and reason.
func checkFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: read %s: %w", path, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("config: %s: not valid YAML: %s", path, yamlSyntax(err))
	}
	if root.Kind == 0 { // an empty file: nothing set
		return nil
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return nil
	}
	if doc.Kind != yaml.MappingNode {
		return fmt.Errorf("config: %s:%d: the file holds %s, want a mapping of configuration keys (key: value lines)", path, doc.Line, kindOf(doc))
	}
	return checkMapping(path, doc, "")
}

// checkMapping refuses keys that are not plain scalars and keys given
// twice, in n and the mappings below it.
func checkMapping(path string, n *yaml.Node, prefix string) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			return fmt.Errorf("config: %s:%d: keys must be plain strings (no merge keys or aliases)", path, k.Line)
		}
		key := prefix + k.Value
		if first, dup := seen[k.Value]; dup {
			return fmt.Errorf("config: %s:%d: key %s given twice (first on line %d)", path, k.Line, shownKey(key), first)
		}
		seen[k.Value] = k.Line
		if v.Kind == yaml.MappingNode {
			if err := checkMapping(path, v, key+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			return "text"
		}
		return "a single value"
	}
	return "something else"
}

// yamlSyntax returns a YAML syntax error as "line N: reason", without the
// library's prefix. Type errors (which quote content) never reach it: the
// file is decoded into a yaml.Node.
func yamlSyntax(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return "not a mapping of configuration keys"
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// shownKey is how an error names a key of the file: the dotted key
// itself where each part looks like a name (letters, digits, '_', '-', at
// most 40 of them), otherwise its length only. A password file's lines
// read as YAML keys.
func shownKey(key string) string {
	for _, part := range strings.Split(key, ".") {
		if part == "" || utf8.RuneCountInString(part) > 40 || strings.IndexFunc(part, func(r rune) bool {
			return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-')
		}) >= 0 {
			return "<a key of " + strconv.Itoa(len(key)) + " bytes that is not a name>"
		}
	}
	return key
}

// unknownFileKeys returns the keys of loaded (koanf's flattened keys)
// that are neither configuration keys nor sections of them, as errors
// show them.
func unknownFileKeys(loaded, known []string) []string {
	var out []string
	for _, k := range loaded {
		if slices.Contains(known, k) || slices.ContainsFunc(known, func(kn string) bool { return strings.HasPrefix(kn, k+".") }) {
			continue
		}
		out = append(out, shownKey(k))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
