// The GraphQL playground, self-hosted: GraphiQL 5 from npm with its Monaco
// workers bundled (no CDN, no esm.sh), opened on the server's example
// queries, the signed-in user's token in its headers (put there from this
// tab's session, never served in a page). Loaded only when opened: its
// editor is most of the console's weight.
import './playgroundWorkers';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
// the whole stylesheet: GraphiQL's, its React components' and the editor's
import 'graphiql/style.css';
import examples from '../../../server/src/http/examples.graphql?raw';
import { token } from '../api/client';

export default function Playground() {
  const proto = window.location.protocol === 'https:' ? 'wss' : 'ws';
  // the token goes with every request the playground makes by itself (the
  // schema's introspection); the Headers pane shows it and may override it
  const fetcher = createGraphiQLFetcher({
    url: '/graphql',
    headers: { Authorization: `Bearer ${token() ?? ''}` },
    subscriptionUrl: `${proto}://${window.location.host}/graphql/ws`,
  });
  const headers = JSON.stringify({ Authorization: `Bearer ${token() ?? ''}` }, null, 2);
  return (
    <div style={{ height: 'calc(100vh - 64px)' }} data-testid="playground">
      <GraphiQL fetcher={fetcher} initialQuery={examples} initialHeaders={headers} defaultEditorToolsVisibility="headers" />
    </div>
  );
}
