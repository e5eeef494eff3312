package transit

// Participant is a clearing member: a city whose operators issue cards and
// carry riders, and which therefore holds a net position every day.
type Participant struct {
	Code City
	Name string
}
