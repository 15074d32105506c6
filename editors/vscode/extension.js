// The unleak VS Code extension: starts `unleak lsp` and connects VS Code's language client to
// it. Everything else (diagnostics, quick fixes, fix-all, hover) comes from the server.
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

const LANGUAGES = ['typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'rust'];

let client;

function settings() {
  const config = vscode.workspace.getConfiguration('unleak');
  return { baseline: config.get('baseline') || null };
}

async function start() {
  const command = vscode.workspace.getConfiguration('unleak').get('path') || 'unleak';
  const serverOptions = {
    command,
    args: ['lsp'],
    transport: TransportKind.stdio,
  };
  const clientOptions = {
    documentSelector: LANGUAGES.flatMap((language) => [
      { scheme: 'file', language },
      { scheme: 'untitled', language },
    ]),
    initializationOptions: settings(),
  };
  client = new LanguageClient('unleak', 'unleak', serverOptions, clientOptions);
  await client.start();
}

async function activate(context) {
  await start();
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!client) {
        return;
      }
      if (event.affectsConfiguration('unleak.path')) {
        // A different executable: start it afresh.
        await client.stop();
        await start();
      } else if (event.affectsConfiguration('unleak.baseline')) {
        await client.sendNotification('workspace/didChangeConfiguration', {
          settings: { unleak: settings() },
        });
      }
    }),
  );
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
