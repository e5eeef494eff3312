package fares

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/tapsettle/tapsettle/transit"
)

// embedded holds the data compiled into the binary: the participants, the
// metro cities and one policy file per city with published rules, plus the
// default template. The product never reads data from outside at run time
// unless an operator passes a policy directory to Load.
//
//go:embed data/cities.csv data/metro_cities.csv policies/*.yaml
var embedded embed.FS

// Book is the compiled fare data of every participant: cities and policy
// versions, indexed for O(1) lookup by city. A Book is immutable once built
// and safe for concurrent use; books built by Load share unchanged policies
// with the Default book.
type Book struct {
	cities []City // sorted by code
	// slot maps City.Index() to 1 + the city's position in cities, 0 when
	// the code is not a participant. transit.MaxCity.Index()+1 entries make a
	// 16 KiB table that answers Policy without hashing.
	slot     []uint16
	versions [][]*Policy // per city, ascending by EffectiveFrom

	// What Load needs to merge an override directory.
	template []*Policy            // versions of policies/default.yaml
	explicit []bool               // per city: true when a policy file names it
	metro    map[transit.City]int // data/metro_cities.csv: lines per city

	fingerprint string
}

var defaultBook = sync.OnceValues(compileDefault)

// Default returns the Book compiled from the embedded data. It compiles
// once per process (20-40 ms on two cores, mostly the metro OD matrices)
// and returns the same Book to every caller.
func Default() (*Book, error) { return defaultBook() }

// source is one policy file to compile.
type source struct {
	name string
	data []byte
}

func compileDefault() (*Book, error) {
	read := func(name string) ([]byte, error) {
		b, err := embedded.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("embedded fare data: %w", err)
		}
		return b, nil
	}
	data, err := read("data/cities.csv")
	if err != nil {
		return nil, err
	}
	cities, err := parseCities("embedded:data/cities.csv", data)
	if err != nil {
		return nil, fmt.Errorf("embedded fare data: %w", err)
	}
	b := &Book{cities: cities}
	b.index()
	if data, err = read("data/metro_cities.csv"); err != nil {
		return nil, err
	}
	if b.metro, err = parseMetroCities("embedded:data/metro_cities.csv", data, b.Participant); err != nil {
		return nil, fmt.Errorf("embedded fare data: %w", err)
	}
	names, err := fs.Glob(embedded, "policies/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("embedded fare data: %w", err)
	}
	var srcs []source
	for _, n := range names {
		data, err := read(n)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, source{name: "embedded:" + n, data: data})
	}
	files, err := compileSources(srcs, b.Participant)
	if err != nil {
		return nil, fmt.Errorf("embedded fare policies: %w", err)
	}
	b.versions = make([][]*Policy, len(b.cities))
	b.explicit = make([]bool, len(b.cities))
	for _, f := range files {
		if f.template {
			b.template = f.versions
			continue
		}
		i := b.pos(f.city)
		b.versions[i] = f.versions
		b.explicit[i] = true
	}
	if b.template == nil {
		return nil, errors.New("embedded fare policies: no default template (policies/default.yaml)")
	}
	b.instantiate()
	if err := b.finish(); err != nil {
		return nil, fmt.Errorf("embedded fare policies: %w", err)
	}
	return b, nil
}

// Load returns the Default book with the policy files of dir laid over it:
// a version in dir replaces the embedded version of the same city and
// effective_from, and adds to the city's versions otherwise. A file for
// city "default" does the same to the template, and so to every city
// without a file of its own. Files are the *.yaml and *.yml in dir (not
// its subdirectories); a symbolic link is followed only to a regular file
// inside dir (as a Kubernetes ConfigMap volume links its keys), and one
// that leads outside is reported, never read. Load("") returns Default().
//
// On invalid files Load returns errors.Join of every problem, each an
// *Error naming file, line and key.
func Load(dir string) (*Book, error) {
	base, err := Default()
	if err != nil || dir == "" {
		return base, err
	}
	files, err := loadDir(dir, base.Participant)
	if err != nil {
		return nil, err
	}
	b := &Book{
		cities:   slices.Clone(base.cities),
		slot:     base.slot,
		versions: slices.Clone(base.versions),
		template: base.template,
		explicit: slices.Clone(base.explicit),
		metro:    base.metro,
	}
	for _, f := range files {
		if f.template {
			b.template = mergeVersions(b.template, f.versions)
			b.instantiate()
		}
	}
	for _, f := range files {
		if !f.template {
			i := b.pos(f.city)
			b.versions[i] = mergeVersions(b.versions[i], f.versions)
		}
	}
	if err := b.finish(); err != nil {
		return nil, fmt.Errorf("fare policies in %s: %w", dir, err)
	}
	return b, nil
}

// Check validates the policy files of dir on their own, without loading
// them: it decodes and checks every file and compiles its networks. It
// returns nil or errors.Join of every problem found, each an *Error naming
// the file, the line and the key.
func Check(dir string) error {
	base, err := Default()
	if err != nil {
		return err
	}
	_, err = loadDir(dir, base.Participant)
	return err
}

// loadDir reads and compiles the policy files of dir and builds their
// networks, so that a directory that passes Check also loads.
func loadDir(dir string, known func(transit.City) bool) ([]*compiledFile, error) {
	pd, err := openPolicyDir(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("fare policy directory: %w", err)
	}
	var srcs []source
	var refused []error
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		data, problem, err := pd.read(e)
		if err != nil {
			return nil, err
		}
		if problem != nil {
			refused = append(refused, problem)
			continue
		}
		srcs = append(srcs, source{name: filepath.Join(dir, e.Name()), data: data})
	}
	// Build the networks of the good files even when others are broken,
	// so that one run reports every problem.
	files, err := compileSources(srcs, known)
	err = joinFlat(append(refused, err)...)
	var nets []*Network
	for _, f := range files {
		for _, p := range f.versions {
			if p.Metro != nil {
				nets = append(nets, p.Metro)
			}
		}
	}
	if err := joinFlat(err, buildAll(nets)); err != nil {
		return nil, err
	}
	return files, nil
}

// joinFlat joins errors like errors.Join, but lifts the members of joined
// errors to the top, so that a caller of Check sees one flat list of
// *Error.
func joinFlat(errs ...error) error {
	var flat []error
	for _, e := range errs {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			flat = append(flat, j.Unwrap()...)
		} else if e != nil {
			flat = append(flat, e)
		}
	}
	return errors.Join(flat...)
}

// compileSources compiles a set of files, one per city at most. It returns
// the files that compiled and the problems of the others.
func compileSources(srcs []source, known func(transit.City) bool) ([]*compiledFile, error) {
	var probs problems
	var files []*compiledFile
	byCity := map[transit.City]*compiledFile{}
	var template *compiledFile
	for _, s := range srcs {
		f := compileFile(s.name, s.data, known, &probs)
		if f == nil {
			continue
		}
		prev := byCity[f.city]
		if f.template {
			prev = template
		}
		if prev != nil {
			probs.add(f.name, f.line, "city", ErrDuplicate, "%s is already given by %s", cityName(f), prev.name)
			continue
		}
		if f.template {
			template = f
		} else {
			byCity[f.city] = f
		}
		files = append(files, f)
	}
	return files, probs.err()
}

func cityName(f *compiledFile) string {
	if f.template {
		return "the default template"
	}
	return "city " + f.city.String()
}

// mergeVersions lays over on base: same EffectiveFrom replaces, others add.
func mergeVersions(base, over []*Policy) []*Policy {
	out := slices.DeleteFunc(slices.Clone(base), func(p *Policy) bool {
		return slices.ContainsFunc(over, func(o *Policy) bool { return o.EffectiveFrom == p.EffectiveFrom })
	})
	out = append(out, over...)
	slices.SortFunc(out, func(a, b *Policy) int { return cmp.Compare(a.EffectiveFrom, b.EffectiveFrom) })
	return out
}

// instantiate gives every city without a policy file of its own the
// template's versions. A city listed in data/metro_cities.csv gets the
// template's metro rules on a synthetic network generated from its code.
func (b *Book) instantiate() {
	for i, c := range b.cities {
		if b.explicit[i] {
			continue
		}
		vs := make([]*Policy, len(b.template))
		for j, t := range b.template {
			p := *t
			p.City = c.Code
			p.tmpl = nil
			if lines, ok := b.metro[c.Code]; ok && t.tmpl != nil {
				lines = min(max(lines, MinSyntheticLines), MaxSyntheticLines)
				p.Metro = newSyntheticNetwork(uint64(c.Code), lines, DefaultSyntheticStations, t.tmpl.ladder,
					"ours: synthetic network generated from the city code; the real network is not sourced")
				p.Metro.file, p.Metro.key = t.File, "metro"
				p.MaxInSystem = t.tmpl.maxInSystem
				p.overtime = t.tmpl.overtime
			}
			vs[j] = &p
		}
		b.versions[i] = vs
	}
}

// finish builds the networks not built yet, then derives HasMetro and the
// fingerprint.
func (b *Book) finish() error {
	var nets []*Network
	for _, vs := range b.versions {
		for _, p := range vs {
			if p.Metro != nil && p.Metro.dist == nil {
				nets = append(nets, p.Metro)
			}
		}
	}
	if err := buildAll(nets); err != nil {
		return err
	}
	for i := range b.cities {
		b.cities[i].HasMetro = slices.ContainsFunc(b.versions[i], func(p *Policy) bool { return p.Metro != nil })
	}
	b.fingerprint = b.computeFingerprint()
	return nil
}

// buildAll builds networks in parallel. Each build is independent and
// deterministic, so the result does not depend on scheduling.
func buildAll(nets []*Network) error {
	// Largest first, so that the big matrices do not end up last on one
	// worker while the others idle.
	slices.SortStableFunc(nets, func(a, b *Network) int { return cmp.Compare(len(b.codes), len(a.codes)) })
	errs := make([]error, len(nets))
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(nets)) {
		wg.Go(func() {
			for i := range work {
				errs[i] = nets[i].build()
			}
		})
	}
	for i := range nets {
		work <- i
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

func (b *Book) index() {
	b.slot = make([]uint16, transit.MaxCity.Index()+1)
	for i, c := range b.cities {
		b.slot[c.Code.Index()] = uint16(i + 1)
	}
}

// pos returns the position of a participant in b.cities, or -1.
func (b *Book) pos(c transit.City) int {
	if !c.Valid() {
		return -1
	}
	return int(b.slot[c.Index()]) - 1
}

// Cities returns the participants sorted by code. The slice is a copy.
func (b *Book) Cities() []City { return slices.Clone(b.cities) }

// Participants returns the participant cities as clearing members, sorted
// by code, each named by its English name.
func (b *Book) Participants() []transit.Participant {
	ps := make([]transit.Participant, len(b.cities))
	for i, c := range b.cities {
		ps[i] = transit.Participant{Code: c.Code, Name: c.NameEN}
	}
	return ps
}

// Participant reports whether c is a participant city: one index probe,
// for the hot path, where City would copy the city's record.
func (b *Book) Participant(c transit.City) bool { return b.pos(c) >= 0 }

// City returns the participant with code c.
func (b *Book) City(c transit.City) (City, bool) {
	i := b.pos(c)
	if i < 0 {
		return City{}, false
	}
	return b.cities[i], true
}

// Policy returns the version of city c's rules effective on day d: the one
// with the latest EffectiveFrom not after d. It returns nil for a code that
// is not a participant or a day before the city's first version. It does
// not allocate: an array index, then a scan of the (few) versions from the
// newest.
func (b *Book) Policy(c transit.City, d transit.Day) *Policy {
	i := b.pos(c)
	if i < 0 {
		return nil
	}
	vs := b.versions[i]
	for j := len(vs) - 1; j >= 0; j-- {
		if vs[j].EffectiveFrom <= d {
			return vs[j]
		}
	}
	return nil
}

// Versions returns every version of city c's rules, ascending by
// EffectiveFrom; nil for a code that is not a participant.
func (b *Book) Versions(c transit.City) []*Policy {
	i := b.pos(c)
	if i < 0 {
		return nil
	}
	return slices.Clone(b.versions[i])
}

// Template returns the versions of the default template
// (policies/default.yaml, or its override), ascending by EffectiveFrom.
// Their City is 0 and their Metro nil: each city in data/metro_cities.csv
// gets the template's metro rules on its own synthetic network.
func (b *Book) Template() []*Policy { return slices.Clone(b.template) }

// Fingerprint returns a hash of all the compiled data (cities, every
// policy version, every network), for logs and run manifests: two books
// with the same fingerprint price every tap the same. Its form is
// "sha256:" and 64 hex digits.
func (b *Book) Fingerprint() string { return b.fingerprint }

// String identifies the book in logs.
func (b *Book) String() string {
	n := 0
	for _, vs := range b.versions {
		n += len(vs)
	}
	return fmt.Sprintf("fares.Book{%d cities, %d versions, %s}", len(b.cities), n, strings.TrimPrefix(b.fingerprint, "sha256:")[:12])
}
