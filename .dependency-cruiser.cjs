/**
 * The layering of usbms, checked by `npm run check:layers` (part of `npm test`). docs/architecture.md draws the
 * layers and says why each rule is there. Each folder of src/ has one job and imports only the folders below it:
 *
 *   apps (cli, rig, rescue, serve)  ->  api.ts, open.ts, disk/, the mock entry, util/
 *   open.ts, open-transport.ts, index.ts, api.ts ->  everything below (composition and the package's public API)
 *   sources                         ->  mock, usb, util            (the one device-source factory)
 *   disk                            ->  scsa, scsi, util           (the target driver)
 *   scsa                            ->  transport, scsi, util      (the HBA: DDI names, ARQ, DMA)
 *   bot, uas                        ->  transport, quirks, usb, util (the wire protocols under the HBA)
 *   quirks                          ->  usb/port.ts (types), util  (device quirks as data: the device's, not a protocol's)
 *   mock (and mock/replay, mock/uas)->  usb, scsi, util            (the software devices)
 *   transport                       ->  util                       (the contract between HBA and protocols)
 *   scsi                            ->  util                       (pure CDB/data codecs)
 *   usb (port, libusb, trace, wire) ->  util                       (the port and the wire declarations)
 *   util                            ->  nothing
 *
 * Type-only imports count (tsPreCompilationDeps): a type couples two layers as much as a value does.
 */

/** Folders under src/ (a trailing slash) or single modules. */
const SRC = {
  apps: '^src/apps/',
  top: '^src/(open|open-transport|index|api)\\.ts$',
  sources: '^src/sources/',
  disk: '^src/disk/',
  scsa: '^src/scsa/',
  bot: '^src/bot/',
  uas: '^src/uas/',
  quirks: '^src/quirks/',
  transport: '^src/transport/',
  mock: '^src/mock/',
  scsi: '^src/scsi/',
  usb: '^src/usb/',
  util: '^src/util/',
};

/** `from` may import only the src/ modules matching `allowed` (its own folder is always allowed). */
function only(name, from, allowed, comment) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: from },
    to: { path: '^src/', pathNot: [from, ...allowed] },
  };
}

/** Only the modules matching `owners` import the npm package `pkg`. */
function owner(name, pkg, owners, comment) {
  return { name, comment, severity: 'error', from: { pathNot: owners }, to: { path: `(^|/)node_modules/${pkg}/` } };
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle, type-only ones included: a cycle makes two modules one, and its load order luck.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-upward-from-src',
      comment: 'Shipped code never imports the tools (bundler, benchmarks) or the tests; nothing under tools/ ships.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(tools|test|hw-tests)/' },
    },

    // ---- the layers, each an allowlist of what it may import
    only('apps-above-the-api', SRC.apps, ['^src/api\\.ts$', '^src/open\\.ts$', SRC.disk, '^src/mock/index\\.ts$', SRC.util],
      'Applications use the library as its users do: the public API (api.ts, open.ts, disk/, the mock entry), and ' +
      'the util foundation (errors, logging, sizes). They reach nothing below (scsa, bot, usb, ...) directly.'),
    only('sources-build-backends-only', SRC.sources, [SRC.mock, SRC.usb, SRC.util],
      'The device-source factory turns descriptions into UsbBackends: it knows the devices (libusb, software disks, ' +
      'replays), never the protocol stack above them.'),
    only('disk-on-scsa', SRC.disk, [SRC.scsa, SRC.scsi, SRC.util],
      'The target driver talks SCSA (scsi_pkt, scsi_transport) and SCSI; it never sees a wire protocol or a port.'),
    only('hba-knows-no-wire-protocol', SRC.scsa, [SRC.transport, SRC.scsi, SRC.util],
      'The HBA runs packets on the Transport contract (src/transport); Bulk-Only or UAS behind it is not its business.'),
    only('bot-knows-no-scsa', SRC.bot, [SRC.transport, SRC.quirks, SRC.usb, SRC.util],
      'The Bulk-Only engine implements the Transport on a UsbPort; it knows neither the HBA nor the disk.'),
    only('uas-knows-no-scsa', SRC.uas, [SRC.transport, SRC.quirks, SRC.usb, SRC.util],
      'The UAS engine implements the Transport on a UsbPort; it knows neither the HBA nor the disk.'),
    only('quirks-are-data', SRC.quirks, ['^src/usb/port\\.ts$', SRC.util],
      'Device quirks (declarations, table, overrides) belong to the device, not to one protocol: Bulk-Only, UAS, ' +
      'the transport choice, the HBA and the disk read their parts; the quirks know only the bus speed type.'),
    only('transport-is-a-contract', SRC.transport, [SRC.util],
      'The Transport contract (types) sits between the HBA and the protocols and depends on neither.'),
    only('scsi-is-pure', SRC.scsi, [SRC.util],
      'CDB and data declarations, sense decoding: pure functions any layer may use.'),
    only('port-knows-no-protocol', SRC.usb, [SRC.util],
      'The USB port, its libusb implementation, TracingPort and the wire declarations know no protocol engine, ' +
      'no SCSI, no software device.'),
    only('util-is-the-foundation', SRC.util, [],
      'Errors, the layout wrapper, logging, timers: imported by everyone, importing nobody.'),
    only('mock-shares-declarations-only', SRC.mock, [SRC.usb, SRC.scsi, SRC.util],
      'The software devices share only declarations with the host (the port contract and wire formats in usb/, ' +
      'SCSI in scsi/), never behaviour: a bug in the host cannot hide behind the same bug in the device.'),
    {
      name: 'host-never-uses-the-software-devices',
      comment: 'The host stack (usb, transport, bot, uas, scsa, disk) must work against a device it does not share ' +
        'code with; only the composition (open.ts, sources, api.ts) and the tools pick the software disk.',
      severity: 'error',
      from: { path: '^src/(usb|transport|quirks|bot|uas|scsa|disk|scsi|util)/' },
      to: { path: '^src/mock/' },
    },
    {
      name: 'software-devices-never-use-libusb',
      comment: 'A software device is a device: it never reaches for the host\'s libusb implementation.',
      severity: 'error',
      from: { path: '^src/mock/' },
      to: { path: '^src/usb/libusb/' },
    },
    {
      name: 'wire-declarations-are-declarations',
      comment: 'src/usb/wire declares formats (CBW/CSW, UAS IUs) for both sides: it imports only the layout wrapper.',
      severity: 'error',
      from: { path: '^src/usb/wire/' },
      to: { path: '^src/', pathNot: ['^src/usb/wire/', '^src/util/layout\\.ts$', '^src/util/errors\\.ts$'] },
    },
    {
      name: 'port-trace-knows-no-replay',
      comment: 'TracingPort writes and reads captures; turning one into a device is the software devices\' job.',
      severity: 'error',
      from: { path: '^src/usb/' },
      to: { path: '^src/mock/replay/' },
    },
    {
      name: 'top-is-not-imported-below',
      comment: 'open.ts, api.ts and index.ts compose the layers; only the applications (api.ts, open.ts) and index.ts ' +
        'itself import them.',
      severity: 'error',
      from: { path: '^src/(?!apps/)', pathNot: SRC.top },
      to: { path: SRC.top },
    },
    {
      name: 'top-imports-no-application',
      comment: 'The package root exports the rigs (apps/rig); nothing else of the composition imports an application.',
      severity: 'error',
      from: { path: SRC.top },
      to: { path: SRC.apps, pathNot: '^src/apps/rig/index\\.ts$' },
    },
    {
      name: 'index-is-the-only-rig-export',
      comment: 'Only the package root (index.ts) re-exports the rigs: api.ts stays free of applications, which ' +
        'import it.',
      severity: 'error',
      from: { path: '^src/(open|api)\\.ts$' },
      to: { path: SRC.apps },
    },
    {
      name: 'apps-serve-rig-rescue-not-cli',
      comment: 'The command line is the top application: the others never import it.',
      severity: 'error',
      from: { path: '^src/apps/(?!cli/)' },
      to: { path: '^src/apps/cli/' },
    },

    // ---- one owner per npm package
    owner('only-libusb-touches-node-usb', 'usb', ['^src/usb/libusb/', '^tools/bench/bare-loop\\.ts$'],
      'usb@2 (libusb) is the port implementation\'s, in src/usb/libusb, loaded only when a libusb source opens; the ' +
      'bare loop (tools/bench) is the deliberate exception, being the yardstick usbms is measured against.'),
    owner('only-util-layout-touches-buffer-layout', 'buffer-layout', ['^src/util/layout\\.ts$'],
      'buffer-layout ships no types: src/util/layout.ts is its typed wrapper, and the only way to it.'),
    owner('only-the-cli-touches-yargs', 'yargs', ['^src/apps/cli/', '^tools/'], 'yargs is the command line\'s (and the tool that documents it).'),
    owner('only-util-log-touches-debug', 'debug', ['^src/util/log\\.ts$'],
      'debug loads through src/util/log.ts only, and only when logging may be on.'),
    {
      name: 'tools-never-ship',
      comment: 'The bundler and the benchmarks may use anything, but only tools/ imports tools/.',
      severity: 'error',
      from: { pathNot: '^tools/' },
      to: { path: '^tools/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    combinedDependencies: false,
    reporterOptions: {
      archi: { collapsePattern: '^src/(apps/[^/]+|usb/(libusb|trace|wire)|mock/replay|mock/uas|[^/]+)/|^src/[^/]+\\.ts$' },
    },
  },
};
