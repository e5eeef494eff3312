package fares

// The YAML schema of a policy file, as decoded by yaml_decode.go. The types
// mirror the file one to one; compile.go checks them and turns them into a
// Policy. Numbers are pointers so that "absent" differs from 0; every field
// is omitempty so that yaml.Marshal writes a document that decodes back to
// the same value (the round-trip property of FuzzPolicyYAML).
//
// docs/fare-policies.md describes the format for people.

// fileDoc is one policy file: one city (or "default", the template for
// cities without data of their own) and its versions.
type fileDoc struct {
	City     string       `yaml:"city,omitempty"`
	Versions []versionDoc `yaml:"versions,omitempty"`
}

// versionDoc is one version of a city's rules, effective from a day until
// the next version.
type versionDoc struct {
	EffectiveFrom string        `yaml:"effective_from,omitempty"` // YYYY-MM-DD
	Version       string        `yaml:"version,omitempty"`        // label; default: the date
	Source        string        `yaml:"source,omitempty"`
	Bus           *busDoc       `yaml:"bus,omitempty"`
	Metro         *metroDoc     `yaml:"metro,omitempty"`
	Transfers     []transferDoc `yaml:"transfers,omitempty"`
	// Allowances are transfer allowances that several transfer rules
	// share (GTFS-Fares v2 fare_transfer_rules: transfer_count and
	// duration_limit).
	Allowances []allowanceDoc `yaml:"transfer_allowances,omitempty"`
	Caps       *capsDoc       `yaml:"caps,omitempty"`
	Products   []productDoc   `yaml:"products,omitempty"`
	// Calendars and Timeframes say when a product rule applies (GTFS
	// calendar.txt, calendar_dates.txt and timeframes.txt).
	Calendars  []calendarDoc  `yaml:"calendars,omitempty"`
	Timeframes []timeframeDoc `yaml:"timeframes,omitempty"`
}

type busDoc struct {
	Fare   *int64       `yaml:"fare,omitempty"` // fen, flat
	Source string       `yaml:"source,omitempty"`
	Lines  []busLineDoc `yaml:"lines,omitempty"`
}

type busLineDoc struct {
	Line   string `yaml:"line,omitempty"`
	Fare   *int64 `yaml:"fare,omitempty"` // fen
	Source string `yaml:"source,omitempty"`
}

type metroDoc struct {
	Source         string       `yaml:"source,omitempty"`
	Ladder         *ladderDoc   `yaml:"ladder,omitempty"`
	MaxInSystemMin *int64       `yaml:"max_in_system_min,omitempty"` // 0 = no limit
	Overtime       *overtimeDoc `yaml:"overtime,omitempty"`          // absent: highest fare from the exit
	Network        *networkDoc  `yaml:"network,omitempty"`
}

// overtimeDoc is how a journey over max_in_system_min is charged: Charge
// "highest_fare_from_exit" (the highest single fare from the exit station)
// or "surcharge" (the distance fare plus Surcharge fen).
type overtimeDoc struct {
	Charge    string `yaml:"charge,omitempty"`
	Surcharge *int64 `yaml:"surcharge,omitempty"` // fen
	Source    string `yaml:"source,omitempty"`
}

type ladderDoc struct {
	Base  *ladderBaseDoc  `yaml:"base,omitempty"`
	Steps []ladderStepDoc `yaml:"steps,omitempty"`
}

// ladderBaseDoc: Fare fen for trips up to UpToKm km inclusive.
type ladderBaseDoc struct {
	Fare   *int64 `yaml:"fare,omitempty"`
	UpToKm *int64 `yaml:"up_to_km,omitempty"`
}

// ladderStepDoc: +Add fen (default 100) per started PerKm km, up to UpToKm
// km inclusive; the last step has no UpToKm and is open-ended.
type ladderStepDoc struct {
	Add    *int64 `yaml:"add,omitempty"`
	PerKm  *int64 `yaml:"per_km,omitempty"`
	UpToKm *int64 `yaml:"up_to_km,omitempty"`
}

// networkDoc is either Synthetic or Lines.
type networkDoc struct {
	Source    string        `yaml:"source,omitempty"`
	Synthetic *syntheticDoc `yaml:"synthetic,omitempty"`
	Lines     []lineDoc     `yaml:"lines,omitempty"`
}

type syntheticDoc struct {
	Seed        *int64 `yaml:"seed,omitempty"`
	Lines       *int64 `yaml:"lines,omitempty"`
	MaxStations *int64 `yaml:"max_stations,omitempty"`
}

// lineDoc lists a line's stations in order and the distances between
// consecutive stations; a station id on several lines is an interchange.
type lineDoc struct {
	Code       string   `yaml:"code,omitempty"`
	Stations   []string `yaml:"stations,omitempty"`
	DistancesM []int64  `yaml:"distances_m,omitempty"`
}

type transferDoc struct {
	Name          string   `yaml:"name,omitempty"`
	From          []string `yaml:"from,omitempty"`
	To            []string `yaml:"to,omitempty"`
	ModeChange    bool     `yaml:"mode_change,omitempty"`
	WindowMinutes []int64  `yaml:"window_minutes,omitempty"` // [min, max] after the chain's first tap
	MaxUses       *int64   `yaml:"max_uses,omitempty"`       // per chain; not with Allowance
	Allowance     string   `yaml:"allowance,omitempty"`      // a transfer_allowances name
	UpTo          *int64   `yaml:"up_to,omitempty"`          // fen
	Products      []string `yaml:"products,omitempty"`
	Source        string   `yaml:"source,omitempty"`
}

// allowanceDoc is a transfer allowance: TransferCount discounted
// transfers per chain, whichever of the rules that name it gives them,
// within DurationLimitMin minutes of the chain's first tap. With
// ChainRestarts, once the count is spent the next leg that gets no
// transfer discount starts a new chain.
type allowanceDoc struct {
	Name              string `yaml:"name,omitempty"`
	TransferCount     *int64 `yaml:"transfer_count,omitempty"`
	DurationLimitMin  *int64 `yaml:"duration_limit_min,omitempty"`
	DurationLimitType string `yaml:"duration_limit_type,omitempty"` // departure_to_departure (the default, GTFS 1)
	ChainRestarts     bool   `yaml:"chain_restarts,omitempty"`
	Source            string `yaml:"source,omitempty"`
}

// calendarDoc is a set of days: the weekdays Days (mon..sun), less the
// dates RemovedDates, plus the dates AddedDates (GTFS calendar_dates.txt
// exception types 2 and 1). A date is YYYY-MM-DD or a range
// YYYY-MM-DD/YYYY-MM-DD, inclusive.
type calendarDoc struct {
	Name         string   `yaml:"name,omitempty"`
	Days         []string `yaml:"days,omitempty"`
	RemovedDates []string `yaml:"removed_dates,omitempty"`
	AddedDates   []string `yaml:"added_dates,omitempty"`
	Source       string   `yaml:"source,omitempty"`
}

// timeframeDoc is a set of local times of day, [start, end) as in GTFS
// timeframes.txt, on the days of Calendar (absent: every day).
type timeframeDoc struct {
	Name     string        `yaml:"name,omitempty"`
	Calendar string        `yaml:"calendar,omitempty"`
	Times    []timeSpanDoc `yaml:"times,omitempty"`
	Source   string        `yaml:"source,omitempty"`
}

// timeSpanDoc is a local time span, HH:MM or HH:MM:SS, Start included
// and End excluded; End may be 24:00.
type timeSpanDoc struct {
	Start string `yaml:"start,omitempty"`
	End   string `yaml:"end,omitempty"`
}

type capsDoc struct {
	Daily  *dailyCapDoc `yaml:"daily,omitempty"`
	Volume *volumeDoc   `yaml:"volume,omitempty"`
}

type dailyCapDoc struct {
	Cap    *int64   `yaml:"cap,omitempty"` // fen
	Modes  []string `yaml:"modes,omitempty"`
	Source string   `yaml:"source,omitempty"`
}

type volumeDoc struct {
	Modes  []string  `yaml:"modes,omitempty"`
	Tiers  []tierDoc `yaml:"tiers,omitempty"`
	Source string    `yaml:"source,omitempty"`
}

type tierDoc struct {
	After *int64 `yaml:"after,omitempty"`  // fen spent in the month before the ride
	PayBP *int64 `yaml:"pay_bp,omitempty"` // basis points paid
}

type productDoc struct {
	Name    string   `yaml:"name,omitempty"`
	Product string   `yaml:"product,omitempty"`
	Issuers []string `yaml:"issuers,omitempty"` // absent = any issuer
	Enabled *bool    `yaml:"enabled,omitempty"` // absent = true
	// Timeframe limits the rule to legs that start in it (absent: any
	// time); a metro journey starts at its entry.
	Timeframe string  `yaml:"timeframe,omitempty"`
	PayBP     *payDoc `yaml:"pay_bp,omitempty"`
	Source    string  `yaml:"source,omitempty"`
}

type payDoc struct {
	Bus   *int64 `yaml:"bus,omitempty"`
	Metro *int64 `yaml:"metro,omitempty"`
}
