package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/state"
)

func newNotificationsCommand(g *globals) *cobra.Command {
	var status, output string
	var limit int
	cmd := &cobra.Command{
		Use:   "notifications [retry DELIVERY_ID]",
		Short: "List recent notification deliveries, failures and dead letters; retry one",
		Long: `Notifications lists the newest deliveries of events to the providers of
gantry.yaml's notifications (docs/notifications.md), from the database: the
delivery ID (the receivers' idempotency key), the stack, the provider, the
event, its status (queued: waiting or being retried; sent; dead: given up
after the last attempt), the attempts, when it goes next or went, and the
last error.

notifications retry ID queues a delivery again (a dead letter, or a queued
one now), with the same delivery ID: gantry run sends it at its next round.`,
		Example: `  gantry notifications
  gantry notifications --status dead
  gantry notifications retry 6f1c0e2a-…`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) > 0 && (args[0] != "retry" || len(args) != 2) {
				return fmt.Errorf("unknown arguments %q: use gantry notifications, or gantry notifications retry DELIVERY_ID", strings.Join(args, " "))
			}
			if err := oneOf("status", status, "", state.DeliveryQueued, state.DeliverySent, state.DeliveryDead); err != nil {
				return err
			}
			if err := oneOf("output", output, "text", "json"); err != nil {
				return err
			}
			sess, err := g.newDBSession(ctx, nil, sessionOptions{keyOptional: true})
			if err != nil {
				return err
			}
			defer sess.Close()
			if len(args) == 2 {
				if _, err := uuid.Parse(args[1]); err != nil {
					return fmt.Errorf("%q is not a delivery ID: give the whole ID gantry notifications lists", args[1])
				}
				if err := sess.store.RetryDelivery(ctx, args[1]); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Delivery %s queued again: gantry run sends it at its next round.\n", args[1])
				return nil
			}
			ds, err := sess.store.Deliveries(ctx, status, limit)
			if err != nil {
				return err
			}
			if output == "json" {
				return printDeliveriesJSON(g, ds)
			}
			printDeliveries(g, ds)
			return nil
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only deliveries of this status: queued, sent or dead")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many, newest first")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output: text or json")
	return cmd
}

func printDeliveries(g *globals, ds []state.Delivery) {
	if len(ds) == 0 {
		fmt.Fprintln(g.stdout, "No deliveries.")
		return
	}
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DELIVERY\tSTACK\tPROVIDER\tEVENT\tSTATUS\tATTEMPTS\tWHEN\tLAST ERROR")
	for _, d := range ds {
		when := "next " + d.NextAt.UTC().Format(time.RFC3339)
		if d.SentAt != nil {
			when = "sent " + d.SentAt.UTC().Format(time.RFC3339)
		} else if d.Status == state.DeliveryDead {
			when = "—"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Stack, d.Provider, d.Event.Kind, d.Status, d.Attempts, when, oneLine(d.LastError))
	}
	w.Flush()
}

func printDeliveriesJSON(g *globals, ds []state.Delivery) error {
	type delivery struct {
		ID        string     `json:"id"`
		Stack     string     `json:"stack"`
		Provider  string     `json:"provider"`
		EventID   string     `json:"event_id"`
		Kind      string     `json:"kind"`
		Status    string     `json:"status"`
		Attempts  int        `json:"attempts"`
		NextAt    time.Time  `json:"next_at"`
		SentAt    *time.Time `json:"sent_at,omitempty"`
		LastError string     `json:"last_error,omitempty"`
	}
	out := make([]delivery, len(ds))
	for i, d := range ds {
		out[i] = delivery{d.ID, d.Stack, d.Provider, d.Event.ID, string(d.Event.Kind), d.Status, d.Attempts, d.NextAt.UTC(), d.SentAt, d.LastError}
	}
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// oneLine is s's first line, at most 80 characters.
func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}
