package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tapsettle/tapsettle/transit"
)

// schemaNode is the subset of JSON Schema 2020-12 that tap.schema.json
// uses.
type schemaNode struct {
	Type       string                 `json:"type"`
	Enum       []any                  `json:"enum"`
	Const      any                    `json:"const"`
	MinLength  *int                   `json:"minLength"`
	MaxLength  *int                   `json:"maxLength"`
	Pattern    string                 `json:"pattern"`
	Minimum    *float64               `json:"minimum"`
	Maximum    *float64               `json:"maximum"`
	MultipleOf *float64               `json:"multipleOf"`
	Ref        string                 `json:"$ref"`
	OneOf      []*schemaNode          `json:"oneOf"`
	AllOf      []*schemaNode          `json:"allOf"`
	If         *schemaNode            `json:"if"`
	Then       *schemaNode            `json:"then"`
	Required   []string               `json:"required"`
	Properties map[string]*schemaNode `json:"properties"`
	Defs       map[string]*schemaNode `json:"$defs"`
}

func loadSchema(t *testing.T) *schemaNode {
	t.Helper()
	data, err := os.ReadFile("tap.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var root schemaNode
	if err := dec.Decode(&root); err != nil {
		t.Fatal(err)
	}
	return &root
}

// ecmaToRE2 rewrites the \uXXXX escapes of an ECMA-262 pattern for Go.
var ecmaUnicode = regexp.MustCompile(`\\u([0-9a-fA-F]{4})`)

func ecmaToRE2(p string) string { return ecmaUnicode.ReplaceAllString(p, `\x{$1}`) }

// validate checks v against n; root resolves $ref.
func (n *schemaNode) validate(root *schemaNode, v any) error {
	if n.Ref != "" {
		return root.Defs[strings.TrimPrefix(n.Ref, "#/$defs/")].validate(root, v)
	}
	switch n.Type {
	case "":
	case "null":
		if v != nil {
			return fmt.Errorf("want null")
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("want a string, got %T", v)
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return fmt.Errorf("want an integer, got %v", v)
		}
	case "object":
		if _, ok := v.(map[string]any); !ok {
			return fmt.Errorf("want an object")
		}
	default:
		return fmt.Errorf("schema type %q not supported by this test", n.Type)
	}
	if n.Enum != nil && !slices.Contains(n.Enum, v) {
		return fmt.Errorf("%v not in %v", v, n.Enum)
	}
	if n.Const != nil && n.Const != v {
		return fmt.Errorf("%v is not %v", v, n.Const)
	}
	if s, ok := v.(string); ok {
		if n.MinLength != nil && utf8.RuneCountInString(s) < *n.MinLength {
			return fmt.Errorf("%q shorter than %d", s, *n.MinLength)
		}
		if n.MaxLength != nil && utf8.RuneCountInString(s) > *n.MaxLength {
			return fmt.Errorf("%q longer than %d", s, *n.MaxLength)
		}
		if n.Pattern != "" && !regexp.MustCompile(ecmaToRE2(n.Pattern)).MatchString(s) {
			return fmt.Errorf("%q does not match %s", s, n.Pattern)
		}
	}
	if f, ok := v.(float64); ok {
		if n.Minimum != nil && f < *n.Minimum || n.Maximum != nil && f > *n.Maximum {
			return fmt.Errorf("%v out of range", f)
		}
		if n.MultipleOf != nil && math.Mod(f, *n.MultipleOf) != 0 {
			return fmt.Errorf("%v not a multiple of %v", f, *n.MultipleOf)
		}
	}
	if n.OneOf != nil {
		matched := 0
		for _, o := range n.OneOf {
			if o.validate(root, v) == nil {
				matched++
			}
		}
		if matched != 1 {
			return fmt.Errorf("%v matches %d of oneOf", v, matched)
		}
	}
	obj, _ := v.(map[string]any)
	for _, k := range n.Required {
		if _, ok := obj[k]; !ok {
			return fmt.Errorf("missing %s", k)
		}
	}
	for k, p := range n.Properties {
		if pv, ok := obj[k]; ok {
			if err := p.validate(root, pv); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	for _, a := range n.AllOf {
		if a.If != nil && a.If.validate(root, v) == nil {
			if err := a.Then.validate(root, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestSchemaMatchesCode ties tap.schema.json to the code: required keys,
// keys, enumerations and length limits.
func TestSchemaMatchesCode(t *testing.T) {
	s := loadSchema(t)
	var wantRequired []string
	for f := range numFields {
		if requiredFields&f.bit() != 0 {
			wantRequired = append(wantRequired, f.name())
		}
	}
	if !slices.Equal(s.Required, wantRequired) {
		t.Errorf("schema requires %v, the decoder %v", s.Required, wantRequired)
	}
	var keys []string
	for k := range s.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	cols := Columns()
	slices.Sort(cols)
	if !slices.Equal(keys, cols) {
		t.Errorf("schema keys %v, columns %v", keys, cols)
	}
	enum := func(key string, want ...fmt.Stringer) {
		var names []any
		for _, w := range want {
			names = append(names, w.String())
		}
		if !slices.Equal(s.Properties[key].Enum, names) {
			t.Errorf("%s enum %v, want %v", key, s.Properties[key].Enum, names)
		}
	}
	enum("card_product", transit.ProductStandard, transit.ProductJoinIn, transit.ProductStudent, transit.ProductSenior)
	enum("mode", transit.ModeBus, transit.ModeMetro)
	enum("action", transit.ActionBoard, transit.ActionEntry, transit.ActionExit)
	maxLen := func(n *schemaNode) int {
		if n.MaxLength != nil {
			return *n.MaxLength
		}
		m := 0
		for _, o := range n.OneOf {
			if o.MaxLength != nil {
				m = max(m, *o.MaxLength)
			}
		}
		return m
	}
	for key, want := range map[string]int{"tap_id": transit.MaxTapID, "card_id": transit.MaxCardID, "device": transit.MaxDeviceID} {
		if got := maxLen(s.Properties[key]); got != want {
			t.Errorf("%s maxLength %d, want %d", key, got, want)
		}
	}
	if got := maxLen(s.Defs["code"]); got != transit.MaxCode {
		t.Errorf("code maxLength %d, want %d", got, transit.MaxCode)
	}
}

// TestFixturesSatisfySchema: every record the decoder accepts from the
// JSON fixtures satisfies the schema, and the records it rejects for an
// enumeration, a city code, a missing key or the mode/action rule violate
// it.
func TestFixturesSatisfySchema(t *testing.T) {
	s := loadSchema(t)
	schemaFields := []string{"card_product", "mode", "action", "issuer", "city", "card_id"}
	for _, file := range []string{"testdata/taps.jsonl", "testdata/bad.jsonl"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for i, line := range bytes.Split(data, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			var tap transit.Tap
			fe := DecodeJSON(line, &tap)
			var v any
			dec := json.NewDecoder(bytes.NewReader(line))
			if err := dec.Decode(&v); err != nil {
				if fe == nil {
					t.Errorf("%s:%d: decoded, but encoding/json refuses it: %v", file, i+1, err)
				}
				continue
			}
			verr := s.validate(s, v)
			switch {
			case fe == nil && verr != nil:
				t.Errorf("%s:%d: decoded, but violates the schema: %v", file, i+1, verr)
			case fe != nil && verr == nil && slices.Contains(schemaFields, fe.Field) &&
				!strings.Contains(fe.Reason, "duplicate") && fe.Reason != "invalid UTF-8": // encoding/json hides both
				t.Errorf("%s:%d: rejected (%v), but satisfies the schema", file, i+1, fe)
			}
			checked++
		}
		if checked < 5 {
			t.Errorf("%s: only %d records checked", file, checked)
		}
	}
	// The writer's output satisfies the schema too.
	taps := benchTaps(t, 200)
	for i := range taps {
		var v any
		if err := json.Unmarshal(AppendJSON(nil, &taps[i]), &v); err != nil {
			t.Fatal(err)
		}
		if err := s.validate(s, v); err != nil {
			t.Fatalf("AppendJSON output violates the schema: %v", err)
		}
	}
}
