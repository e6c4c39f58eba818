package daemon

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/visitrack/visitrack/collector/settings"
)

// sharedSettings are the flags of the settings the daemon shares with the
// edge (collector/settings): it registers them, and settings parses and
// checks what they hold, so that both builds read them alike.
type sharedSettings struct {
	text    map[string]*string // by flag
	on      map[string]*bool   // the switches, by flag
	fromEnv map[string]bool    // flags whose default came from the environment
}

// sharedFlags registers the shared settings on fs, each defaulting from
// its environment variable through env. A switch's variable is parsed now,
// as the flag package needs a boolean default.
func sharedFlags(fs *flag.FlagSet, env func(name, def string) string) (*sharedSettings, error) {
	s := &sharedSettings{text: map[string]*string{}, on: map[string]*bool{}, fromEnv: map[string]bool{}}
	for _, set := range settings.All() {
		v := env(set.Flag, set.Default)
		s.fromEnv[set.Flag] = v != set.Default
		if !set.Bool {
			s.text[set.Flag] = fs.String(set.Flag, v, set.Usage)
			continue
		}
		on, err := settings.Bool(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", set.Env, err)
		}
		s.on[set.Flag] = fs.Bool(set.Flag, on, set.Usage)
	}
	return s, nil
}

// load parses the shared settings after fs.Parse. An error names the flag,
// or the environment variable when the bad value came from there.
func (s *sharedSettings) load(fs *flag.FlagSet) (settings.Shared, error) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return settings.Load(func(set settings.Setting) string {
		if on, ok := s.on[set.Flag]; ok {
			return strconv.FormatBool(*on)
		}
		return *s.text[set.Flag]
	}, func(set settings.Setting) string {
		if s.fromEnv[set.Flag] && !given[set.Flag] {
			return set.Env
		}
		return "--" + set.Flag
	})
}
