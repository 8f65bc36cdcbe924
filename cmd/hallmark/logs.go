package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

type logEvent struct {
	UUID           string    `json:"uuid"`
	Published      time.Time `json:"published"`
	EventType      string    `json:"eventType"`
	Severity       string    `json:"severity"`
	DisplayMessage string    `json:"displayMessage"`
	Target         []struct {
		AlternateID string `json:"alternateId"`
		ID          string `json:"id"`
	} `json:"target"`
	Outcome struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"outcome"`
}

func newLogsCmd(stdout io.Writer) *cobra.Command {
	var filter, since, until, q string
	var follow, asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Read the system log (HALLMARK_TOKEN)",
		Example: `  hallmark logs --filter 'eventType eq "system.custom_url_domain.verify" and outcome.result eq "FAILURE"'
  hallmark logs --since 2026-11-01T00:00:00Z --follow`,
		Args: cobra.NoArgs,
	}
	newClient := clientFlags(cmd)
	cmd.RunE = func(c *cobra.Command, args []string) error {
		cl, err := newClient()
		if err != nil {
			return err
		}
		v := url.Values{}
		for k, val := range map[string]string{"filter": filter, "since": since, "until": until, "q": q} {
			if val != "" {
				v.Set(k, val)
			}
		}
		v.Set("limit", fmt.Sprint(limit))
		next := "/api/v1/logs?" + v.Encode()
		for {
			var evs []json.RawMessage
			h, err := cl.do(c.Context(), "GET", next, nil, &evs)
			if err != nil {
				return err
			}
			for _, raw := range evs {
				if asJSON {
					stdout.Write(append(raw, '\n'))
					continue
				}
				var e logEvent
				if err := json.Unmarshal(raw, &e); err != nil {
					return err
				}
				target := ""
				if len(e.Target) > 0 {
					target = e.Target[0].AlternateID
					if target == "" {
						target = e.Target[0].ID
					}
				}
				fmt.Fprintf(stdout, "%s  %-5s %-42s %-8s %s  %s", e.Published.Format(time.RFC3339), e.Severity, e.EventType, e.Outcome.Result, target, e.DisplayMessage)
				if e.Outcome.Reason != "" {
					fmt.Fprintf(stdout, " (%s)", e.Outcome.Reason)
				}
				fmt.Fprintln(stdout)
			}
			n := nextLink(h)
			// A polling request always has a next link; without --follow
			// an empty page means we are caught up.
			if n == "" || (len(evs) == 0 && !follow) {
				return nil
			}
			next = n
			if len(evs) == 0 {
				select {
				case <-c.Context().Done():
					return nil
				case <-time.After(2 * time.Second):
				}
			}
		}
	}
	f := cmd.Flags()
	f.StringVar(&filter, "filter", "", `filter expression: eq, sw, and, or on eventType, target.id, outcome.result, severity`)
	f.StringVar(&since, "since", "", "oldest event, RFC 3339 (default: 7 days ago)")
	f.StringVar(&until, "until", "", "newest event, RFC 3339")
	f.StringVar(&q, "q", "", "keywords that must all appear")
	f.IntVar(&limit, "limit", 100, "events per request (1-1000)")
	f.BoolVar(&follow, "follow", false, "keep polling for new events")
	f.BoolVar(&asJSON, "json", false, "print each event's JSON on its own line")
	return cmd
}
