package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// runSplit executes the CLI in process like run, but keeps standard output
// and standard error apart: --output json promises a document on the one
// and everything else on the other.
func runSplit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = execute(context.Background(), root)
	return out.String(), errOut.String(), err
}

// decodeOne decodes stdout into v and fails unless it is exactly one JSON
// document (and its final newline): nothing before it, nothing after.
func decodeOne(t *testing.T, stdout string, v any) {
	t.Helper()
	if !strings.HasPrefix(stdout, "{") {
		t.Fatalf("standard output does not start with a JSON object:\n%s", stdout)
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("standard output is not a JSON document: %v\n%s", err, stdout)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("standard output holds more than one JSON document (%v):\n%s", err, stdout)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" {
		t.Fatalf("standard output goes on after the document: %q", rest)
	}
}

// TestOutputFlagRefusesUnknownFormat: --output takes only the formats a
// command offers, refused before the command runs, naming them.
func TestOutputFlagRefusesUnknownFormat(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		stdout, _, err := runSplit(t, args...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: err %v, want one containing %q", args, err, want)
		}
		if stdout != "" {
			t.Errorf("%v: wrote to standard output: %q", args, stdout)
		}
	}
	f(`invalid argument "yaml" for "--output" flag: want text or json`, "verify", "--output", "yaml", t.TempDir())
	f(`want text or json`, "quote", "--city", "Ningbo", "--output", "csv")
	f(`want text or json`, "policy", "check", "--output", "JSON", t.TempDir())
	f(`want text, json or csv`, "bench", "--output", "xml")
}

// TestVerifyJSON: verify --output json writes its verdict as one document,
// also when the check fails (exit status 2 still), naming the file that
// disagrees as the text does.
func TestVerifyJSON(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "day.csv")
	if out, err := run(t, "gen", "--taps", "400", "--seed", "2", "-o", in); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	outDir := filepath.Join(dir, "out")
	if out, err := run(t, "settle", "--out", outDir, in); err != nil {
		t.Fatalf("settle: %v\n%s", err, out)
	}
	stdout, stderr, err := runSplit(t, "verify", "--output", "json", outDir)
	if err != nil {
		t.Fatalf("verify: %v\n%s%s", err, stdout, stderr)
	}
	var ok verifyDoc
	decodeOne(t, stdout, &ok)
	if ok.Schema != "tapsettle.verify/1" || ok.Dir != outDir || !ok.Verified || ok.Problems == nil || len(ok.Problems) != 0 {
		t.Errorf("verify of good output: %+v", ok)
	}
	p := tamperSummary(t, filepath.Join(outDir, "2025-03-03"))
	_, textErr, _ := runSplit(t, "verify", outDir)
	stdout, stderr, err = runSplit(t, "verify", "--output", "json", outDir)
	var ex exitError
	if !errors.As(err, &ex) || ex != 2 {
		t.Fatalf("verify --output json of a tampered summary: err %v, want exit status 2", err)
	}
	if stderr != textErr {
		t.Errorf("standard error differs from the text run's:\n%s\nvs\n%s", stderr, textErr)
	}
	var bad map[string]any
	decodeOne(t, stdout, &bad)
	probs, _ := bad["problems"].([]any)
	if bad["verified"] != false || len(probs) != 1 {
		t.Fatalf("verify of a tampered summary: %s", stdout)
	}
	prob := probs[0].(map[string]any)
	if prob["file"] != p || prob["kind"] != "checksum" || !strings.Contains(textErr, prob["error"].(string)) {
		t.Errorf("problem %v: want file %s, kind checksum, and the error the text run printed:\n%s", prob, p, textErr)
	}
}

// TestPolicyCheckJSON: policy check --output json lists every problem with
// file, line and key (exit status 2 still), and for a valid directory the
// fingerprint and city count the text shows.
func TestPolicyCheckJSON(t *testing.T) {
	shipped := filepath.Join("..", "..", "fares", "policies")
	text, err := run(t, "policy", "check", shipped)
	if err != nil {
		t.Fatalf("policy check: %v\n%s", err, text)
	}
	stdout, stderr, err := runSplit(t, "policy", "check", "--output", "json", shipped)
	if err != nil {
		t.Fatalf("policy check --output json: %v\n%s", err, stderr)
	}
	var ok policyCheckDoc
	decodeOne(t, stdout, &ok)
	if want := "valid; 336 cities, fingerprint " + ok.Fingerprint + "\n"; ok.Schema != "tapsettle.policy-check/1" || !ok.Valid || ok.Cities != 336 ||
		ok.Fingerprint == "" || !strings.HasSuffix(text, want) || len(ok.Problems) != 0 {
		t.Errorf("policy check of the shipped policies: %+v; text %q", ok, text)
	}

	bad := t.TempDir()
	yaml := "city: 330200\nversions:\n  - effective_from: 2020-01-01\n    bogus: 1\n    also_bogus: 2\n"
	if err := os.WriteFile(filepath.Join(bad, "330200_ningbo.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = runSplit(t, "policy", "check", "--output", "json", bad)
	var ex exitError
	if !errors.As(err, &ex) || ex != 2 {
		t.Fatalf("policy check of a bad file: err %v, want exit status 2", err)
	}
	var doc policyCheckDoc
	decodeOne(t, stdout, &doc)
	if doc.Valid || doc.Fingerprint != "" {
		t.Errorf("a bad directory is reported valid: %s", stdout)
	}
	found := map[string]bool{}
	for _, p := range doc.Problems {
		if p.File == filepath.Join(bad, "330200_ningbo.yaml") && p.Kind == "unknown_key" && strings.HasPrefix(p.Error, p.File+":") {
			found[p.Key] = p.Line > 0
		}
	}
	if !found["versions[0].bogus"] || !found["versions[0].also_bogus"] {
		t.Errorf("problems %+v: want both unknown keys, with file and line", doc.Problems)
	}
}

// quoteRows parses quote's text table into label -> values (a label such
// as "applied" repeats).
func quoteRows(t *testing.T, text string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		label, value, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("quote line %q is not a label and a value", line)
		}
		rows[label] = append(rows[label], strings.TrimLeft(value, " "))
	}
	return rows
}

// TestQuoteJSONMatchesText: quote --output json gives the figures, rules,
// clearing direction and earlier legs the text shows, for bus and metro,
// local and interregional rides, with transfers.
func TestQuoteJSONMatchesText(t *testing.T) {
	for _, args := range [][]string{
		{"--city", "Ningbo", "--mode", "bus", "--product", "joinin"},
		{"--city", "Ningbo", "--mode", "bus", "--product", "joinin", "--issuer", "Shanghai", "--line", "71"},
		{"--city", "Ningbo", "--mode", "metro", "--from", "S001", "--to", "S020", "--at", "2025-03-03T08:40:00+08:00", "--after", "bus@08:00", "--after", "bus@08:20"},
		{"--city", "Beijing", "--mode", "metro", "--from", "S001", "--to", "S020", "--minutes", "241"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			text, err := run(t, append([]string{"quote"}, args...)...)
			if err != nil {
				t.Fatalf("quote: %v\n%s", err, text)
			}
			stdout, stderr, err := runSplit(t, append([]string{"quote", "--output", "json"}, args...)...)
			if err != nil {
				t.Fatalf("quote --output json: %v\n%s", err, stderr)
			}
			var doc quoteDoc
			decodeOne(t, stdout, &doc)
			rows := quoteRows(t, text)
			yuan := func(fen int64) string { return fmtFen(fen) + " CNY" }
			for label, fen := range map[string]int64{
				"gross": doc.GrossFen, "product discount": doc.ProductDiscountFen, "transfer discount": doc.TransferDiscountFen,
				"cap discount": doc.CapDiscountFen, "charged": doc.ChargedFen,
			} {
				if got := rows[label]; len(got) != 1 || got[0] != yuan(fen) {
					t.Errorf("%s: text %q, json %d fen", label, got, fen)
				}
			}
			if got := rows["rules"]; len(got) != 1 || got[0] != strings.Join(doc.Rules, "+") {
				t.Errorf("rules: text %q, json %q", got, doc.Rules)
			}
			if want := doc.City.Code + " " + doc.City.NameEN + " (" + doc.City.NameZH + ") (policy " + doc.Policy.Version + ", effective " + doc.Policy.EffectiveFrom + ")"; rows["city"][0] != want {
				t.Errorf("city: text %q, json %+v %+v", rows["city"], doc.City, doc.Policy)
			}
			if want := doc.Card.Product + " issued by " + doc.Card.Issuer.Code + " " + doc.Card.Issuer.NameEN; !strings.HasPrefix(rows["card"][0], want) {
				t.Errorf("card: text %q, json %+v", rows["card"], doc.Card)
			}
			switch c := doc.Clearing; c.Kind {
			case "local":
				if !strings.HasPrefix(rows["clearing"][0], "local:") || c.Payer != "" || c.AmountFen != 0 {
					t.Errorf("clearing: text %q, json %+v", rows["clearing"], c)
				}
			case "interregional":
				if want := "interregional: the issuer, " + c.Payer; !strings.HasPrefix(rows["clearing"][0], want) || c.Payee != doc.City.Code || c.AmountFen != doc.ChargedFen {
					t.Errorf("clearing: text %q, json %+v", rows["clearing"], c)
				}
			default:
				t.Errorf("clearing kind %q", c.Kind)
			}
			if len(doc.After) != len(rows["after"]) || !slices.Equal(doc.Applied, rows["applied"]) {
				t.Errorf("after %+v / applied %q: text after %q, applied %q", doc.After, doc.Applied, rows["after"], rows["applied"])
			}
			for i, l := range doc.After {
				if want := l.Mode + " " + l.Time[11:16] + ": gross " + fmtFen(l.GrossFen) + ", charged " + yuan(l.ChargedFen) + ", rules " + strings.Join(l.Rules, "+"); rows["after"][i] != want {
					t.Errorf("after[%d]: text %q, json %+v", i, rows["after"][i], l)
				}
			}
			if (doc.Journey != nil) != (doc.Mode == "metro") || (doc.Journey != nil && !strings.HasPrefix(rows["journey"][0], doc.Journey.From+" -> "+doc.Journey.To+", "+metres(doc.Journey.DistanceM))) {
				t.Errorf("journey: text %q, json %+v", rows["journey"], doc.Journey)
			}
		})
	}
}

// fmtFen formats fen as yuan with two decimals, as the text does; written
// apart from transit.Fen so that the test does not check the code with
// itself.
func fmtFen(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return sign + strconv.FormatInt(fen/100, 10) + "." + fmt.Sprintf("%02d", fen%100)
}

// TestQuoteJSONGolden pins one quote's document, the format's example in
// docs/json-output.md: a change to it is a change of the schema that must
// be deliberate (go test -update rewrites the file).
func TestQuoteJSONGolden(t *testing.T) {
	stdout, stderr, err := runSplit(t, "quote", "--output", "json", "--city", "Shanghai", "--mode", "metro", "--from", "S001", "--to", "S030", "--issuer", "Ningbo", "--product", "joinin")
	if err != nil {
		t.Fatalf("quote: %v\n%s", err, stderr)
	}
	golden := filepath.Join("testdata", "quote_shanghai_metro_ningbo_joinin.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if stdout != string(want) {
		t.Errorf("quote document differs from %s (go test -update rewrites it, after checking):\n%s", golden, stdout)
	}
}

// TestJSONOutputDoc: every complete example in docs/json-output.md (the
// json blocks; abbreviated ones are jsonc) is valid JSON of a schema this
// build writes, every schema has an example, and the quote example is the
// command's output (the golden file).
func TestJSONOutputDoc(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "json-output.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "quote_shanghai_metro_ningbo_joinin.json"))
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]bool{schemaSettle: false, schemaVerify: false, schemaQuote: false, schemaBench: false, schemaProduce: false, schemaPolicyCheck: false}
	quoted := false
	blocks := strings.Split(string(doc), "```")
	for i := 1; i < len(blocks); i += 2 {
		lang, body, _ := strings.Cut(blocks[i], "\n")
		for s := range schemas {
			if strings.Contains(body, `"schema": "`+s+`"`) {
				schemas[s] = true
			}
		}
		if lang != "json" {
			continue
		}
		var v struct {
			Schema string `json:"schema"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Errorf("example %d is not JSON (mark an abbreviated one jsonc): %v\n%s", i/2+1, err, body)
			continue
		}
		if _, ok := schemas[v.Schema]; !ok {
			t.Errorf("example %d has schema %q", i/2+1, v.Schema)
		}
		if v.Schema == schemaQuote {
			quoted = true
			if body != string(golden) {
				t.Errorf("the quote example differs from testdata/quote_shanghai_metro_ningbo_joinin.json:\n%s", body)
			}
		}
	}
	for s, ok := range schemas {
		if !ok {
			t.Errorf("docs/json-output.md has no example of %s", s)
		}
	}
	if !quoted {
		t.Error("docs/json-output.md has no quote example to hold to the golden file")
	}
}
