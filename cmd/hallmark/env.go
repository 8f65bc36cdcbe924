package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// envName is the environment variable that sets a flag:
// --dns-resolvers → HALLMARK_DNS_RESOLVERS.
func envName(flag string) string {
	return "HALLMARK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// HALLMARK_* variable, so flags win over the environment.
func applyEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		v, ok := lookup(getenv, envName(f.Name))
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = usageError("%s=%q: %v", envName(f.Name), v, serr)
		}
	})
	return err
}

func lookup(getenv func(string) string, name string) (string, bool) {
	if getenv == nil {
		return os.LookupEnv(name)
	}
	v := getenv(name)
	return v, v != ""
}

// annotateEnv adds the variable's name to each flag's help text.
func annotateEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		f.Usage = fmt.Sprintf("%s (env %s)", f.Usage, envName(f.Name))
	})
}
