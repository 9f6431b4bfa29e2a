// A ConvoKit client in TypeScript, typed from openapi.yaml: the "other languages"
// promise in practice. Types: scripts/gen-typescript.sh -> generated/typescript/.
//
//   CONVOKIT_BASE_URL=http://127.0.0.1:8787 CONVOKIT_SECRET_KEY=sk_test_... node chat.mjs
//
// Sends two messages in one conversation and prints both replies as JSON.
import createClient from "openapi-fetch";

import type { components, paths } from "../../generated/typescript/convokit.js";

type ChatRequest = components["schemas"]["ChatRequest"];
type ChatResponse = components["schemas"]["ChatResponse"];

// Node's globals, declared here so the check needs no @types/node.
declare const process: { env: Record<string, string | undefined>; exitCode?: number };

function setting(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`set ${name}`);
  }
  return value;
}

const client = createClient<paths>({
  baseUrl: setting("CONVOKIT_BASE_URL"),
  headers: { Authorization: `Bearer ${setting("CONVOKIT_SECRET_KEY")}` },
});

async function chat(body: ChatRequest): Promise<ChatResponse> {
  const { data, error, response } = await client.POST("/v1/chat", {
    body,
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
  });
  if (data === undefined) {
    throw new Error(`${response.status} ${error?.error.type}: ${error?.error.message}`);
  }
  return data;
}

try {
  const first = await chat({ message: "What are your support hours?" });
  const second = await chat({
    message: "And on weekends?",
    conversationId: first.conversation_id,
  });
  console.log(JSON.stringify({ first, second }));
} catch (failure) {
  console.error(failure instanceof Error ? failure.message : failure);
  process.exitCode = 1;
}
