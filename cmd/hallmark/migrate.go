package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/store/postgres"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/store/transfer"
)

// migrateConfig is every flag of `hallmark migrate`.
type migrateConfig struct {
	To            string
	DataDir       string
	MasterKeyFile string
}

func newMigrateCmd(stdout, stderr io.Writer) *cobra.Command {
	var c migrateConfig
	cmd := &cobra.Command{
		Use:   "migrate --to postgres://...",
		Short: "Copy an embedded installation (--data-dir) into an empty PostgreSQL database, and check the copy",
		Long: `Copy an embedded installation into an empty PostgreSQL database: orgs, tokens,
domains, certificates, the built-in CA, the ACME account, challenges, brands,
event hooks, the system log (ids, order and times kept) and the schedule, in
one transaction, checked before it commits (per table, the row count and a
digest of the content read back). Stop the serve on --data-dir first:
changes made after the copy are not in it. Afterwards start every node with
--database-url set to the same URL and --master-key-file pointing at a copy
of the installation's master key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return migrate(cmd.Context(), c, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.To, "to", "", "postgres://user@host:port/database: the empty PostgreSQL database to copy into")
	f.StringVar(&c.DataDir, "data-dir", "./hallmark-data", "the embedded installation to copy (its hallmark.db and ca/)")
	f.StringVar(&c.MasterKeyFile, "master-key-file", "", "the installation's master key (default: DATA_DIR/master.key)")
	return cmd
}

func migrate(ctx context.Context, c migrateConfig, stdout, stderr io.Writer) error {
	u, err := url.Parse(c.To)
	if c.To == "" || err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// Never the URL itself: it may hold a password.
		return usageError("--to: want the URL of an empty PostgreSQL database, postgres://user@host:port/database")
	}
	where := u.Redacted()
	dbPath := filepath.Join(c.DataDir, "hallmark.db")
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return usageError("--data-dir %s holds no embedded installation (no hallmark.db there)", c.DataDir)
	} else if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	logger, err := newLogger(stderr, "warn", "text")
	if err != nil {
		return err
	}

	// The source brought up to date as its next start would: schema, the
	// CA moved from its files, the key check value; the key must open it.
	src, err := sqlite.Open(ctx, dbPath, logger)
	if err != nil {
		return fmt.Errorf("opening the embedded database: %w", err)
	}
	keyFile := c.MasterKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(c.DataDir, "master.key")
	}
	err = adoptSourceKey(ctx, src, keyFile, filepath.Join(c.DataDir, "ca"), logger)
	src.Close()
	if err != nil {
		return err
	}

	// The target's schema, applied as a node's start would.
	dst, err := postgres.Open(ctx, c.To, logger)
	if err != nil {
		return fmt.Errorf("opening PostgreSQL at %s: %w", where, err)
	}
	dst.Close()

	raw, err := sql.Open("sqlite", dbPath+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("opening the embedded database: %w", err)
	}
	defer raw.Close()
	conn, err := pgx.Connect(ctx, c.To)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL at %s: %w", where, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rep, err := transfer.Copy(ctx, raw, conn)
	if errors.Is(err, transfer.ErrNotEmpty) {
		return usageError("--to %s: %v", where, err)
	}
	if err != nil {
		return fmt.Errorf("migrating to %s: %w", where, err)
	}
	printMigration(stdout, c.DataDir, where, keyFile, rep)
	return nil
}

// adoptSourceKey opens the installation's master key, which must exist,
// and checks it as a serve start would.
func adoptSourceKey(ctx context.Context, st secretStore, keyFile, caDir string, logger *slog.Logger) error {
	check, err := st.MasterKeyCheck(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	box, err := sealed.LoadKey(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return usageError("--master-key-file %s does not exist: migrate needs the installation's master key, "+
			"which sealed its private keys (point --master-key-file at it)", keyFile)
	}
	if err != nil {
		return fmt.Errorf("--master-key-file: %w", err)
	}
	return adoptKey(ctx, st, box, keyFile, check, caDir, logger)
}

func printMigration(w io.Writer, dataDir, where, keyFile string, rep transfer.Report) {
	fmt.Fprintf(w, "Copied the embedded installation in %s to %s in one transaction, and checked it:\n", dataDir, where)
	fmt.Fprintf(w, "every table's row count and content digest, read back from PostgreSQL, equal the source's.\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS\tDIGEST")
	var total int64
	for _, t := range rep.Tables {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", t.Name, t.Rows, t.Digest)
		total += t.Rows
	}
	fmt.Fprintf(tw, "(all)\t%d\t\n", total)
	tw.Flush()
	if len(rep.Skipped) > 0 {
		fmt.Fprintln(w, "\nNot copied:")
		names := make([]string, 0, len(rep.Skipped))
		for n := range rep.Skipped {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %s: %s\n", n, rep.Skipped[n])
		}
	}
	fmt.Fprintf(w, "\nNext: stop serving from %s, and start every node with\n", dataDir)
	fmt.Fprintf(w, "  --database-url %s (the --to URL, password included) --master-key-file <a copy of %s, mode 0600>\n", where, keyFile)
}
