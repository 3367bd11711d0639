/**
 * Which way imports run in src/ (README, Architecture): shared types and helpers at the bottom
 * (src/domain, the Platform port, errors, clock, log), then configuration, then the data adapters
 * (market sources, the model, the platforms), the renderers, the jobs, the commands, the chat core
 * (src/chat: the feed, the retrain flow, access, written once), its two adapters (src/slack,
 * src/teams), and the composition root (main.ts, cli.ts) on top. `npm run lint` checks it.
 */
const above = (...folders) => `^src/(${folders.join('|')})(/|\\.ts$)`;

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules that import each other cannot be understood or tested one at a time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-at-the-bottom',
      severity: 'error',
      comment: 'src/domain is what every layer may use, so it uses nothing above it.',
      from: { path: '^src/domain/' },
      to: {
        path: [above('config', 'market', 'model', 'render', 'jobs', 'commands', 'chat', 'slack', 'teams', 'main', 'cli'), '^src/platform/(?!port\\.ts$)'],
      },
    },
    {
      name: 'config-knows-no-flows',
      severity: 'error',
      from: { path: '^src/config\\.ts$' },
      to: { path: above('platform', 'render', 'jobs', 'commands', 'chat', 'slack', 'teams', 'main', 'cli') },
    },
    {
      name: 'adapters-below-flows',
      severity: 'error',
      comment: 'Market sources, the model and the platforms are used by jobs and commands, never the reverse.',
      from: { path: '^src/(market|model|platform)/' },
      to: { path: above('render', 'jobs', 'commands', 'chat', 'slack', 'teams', 'main', 'cli') },
    },
    {
      name: 'render-is-presentation',
      severity: 'error',
      comment: 'Renderers turn replies and data into text, blocks and charts; they run no flow.',
      from: { path: '^src/render/' },
      to: { path: [above('market', 'model', 'jobs', 'commands', 'chat', 'slack', 'teams', 'main', 'cli'), '^src/platform/(?!port\\.ts$)'] },
    },
    {
      name: 'jobs-below-commands',
      severity: 'error',
      from: { path: '^src/jobs/' },
      to: { path: above('commands', 'chat', 'slack', 'teams', 'main', 'cli') },
    },
    {
      name: 'commands-below-chat',
      severity: 'error',
      comment: 'Commands are surface-neutral: chat surfaces and the CLI call them.',
      from: { path: '^src/commands/' },
      to: { path: above('chat', 'slack', 'teams', 'main', 'cli') },
    },
    {
      name: 'chat-core-knows-no-platform',
      severity: 'error',
      comment: 'The flows in src/chat are written once against the chat port; Slack and Teams adapt to it.',
      from: { path: '^src/chat/' },
      to: { path: above('slack', 'teams', 'main', 'cli') },
    },
    {
      name: 'chat-adapters-apart',
      severity: 'error',
      comment: 'Slack and Teams are two adapters of one core: what they share lives in src/chat.',
      from: { path: '^src/(slack|teams)/' },
      to: { path: '^src/(slack|teams)/', pathNot: '^src/$1/' },
    },
    {
      name: 'one-composition-root',
      severity: 'error',
      comment: 'Only the CLI builds the app (main.ts); nothing imports the CLI.',
      from: { pathNot: '^src/cli\\.ts$' },
      to: { path: '^src/(main|cli)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
