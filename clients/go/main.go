// Command convokit-chat holds a two-turn conversation through the Go client that
// openapi-generator makes from openapi.yaml (README "Other languages"), and prints
// both replies as one JSON object. CONVOKIT_BASE_URL (default: the spec's server)
// and CONVOKIT_SECRET_KEY say where to send and with which key.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"convokit-chat/convokit"
)

func main() {
	cfg := convokit.NewConfiguration()
	if baseURL := os.Getenv("CONVOKIT_BASE_URL"); baseURL != "" {
		cfg.Servers = convokit.ServerConfigurations{{URL: baseURL}}
	}
	client := convokit.NewAPIClient(cfg)
	ctx := context.WithValue(context.Background(), convokit.ContextAccessToken, os.Getenv("CONVOKIT_SECRET_KEY"))

	first := send(ctx, client, convokit.NewChatRequest("What are your support hours?"))
	followUp := convokit.NewChatRequest("And on weekends?")
	followUp.SetConversationId(first.ConversationId)
	second := send(ctx, client, followUp)

	out := map[string]any{
		"replies":          []string{first.Reply, second.Reply},
		"conversation_ids": []string{first.ConversationId, second.ConversationId},
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "convokit-chat:", err)
		os.Exit(1)
	}
}

// send posts one message and exits with the API's error body when the call fails.
func send(ctx context.Context, client *convokit.APIClient, request *convokit.ChatRequest) *convokit.ChatResponse {
	response, _, err := client.ChatAPI.CreateChat(ctx).ChatRequest(*request).Execute()
	if err != nil {
		if apiErr, ok := err.(*convokit.GenericOpenAPIError); ok {
			fmt.Fprintf(os.Stderr, "convokit-chat: %v: %s\n", err, apiErr.Body())
		} else {
			fmt.Fprintln(os.Stderr, "convokit-chat:", err)
		}
		os.Exit(1)
	}
	return response
}
