/**
 * JUnit XML of a validation run, as CI systems read it: <testsuites>, one <testsuite> per device (named by port
 * path, VID:PID and serial; over USB/IP the remote host and bus id too), one <testcase> per step; a failed step is a <failure>, an errored one an <error>, a
 * skipped one <skipped>, each with its reason, and the step's figures in <system-out> as JSON.
 */
import { hostname } from 'node:os';
import { describeKey } from '../device.js';
import { formatUsbipSelector } from '../../../api.js';
import { deviceRef } from '../events.js';
import type { DeviceResult, RigResult } from '../runner.js';

/** XML 1.0 allows only these characters; anything else (NUL, most C0 controls, lone surrogates) is dropped. */
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text or attribute value, escaped for XML. */
export function xmlEscape(text: string): string {
  return text.replace(INVALID_XML, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const attrs = (a: Record<string, string | number>): string =>
  Object.entries(a).map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`).join('');

function suite(d: DeviceResult, planName: string): string {
  const ref = deviceRef(d.device.key);
  const count = (s: string): number => d.steps.filter((x) => x.status === s).length;
  const lines = [`  <testsuite${attrs({
    name: describeKey(d.device.key), tests: d.steps.length, failures: count('fail'), errors: count('error'),
    skipped: count('skip'), time: d.seconds.toFixed(3), timestamp: d.started.replace(/\.\d+Z$/, ''), hostname: hostname(),
  })}>`, '    <properties>',
  ...Object.entries({ port: ref.port, vidPid: ref.vidPid, serial: ref.serial ?? '', usbipHost: ref.usbip?.host ?? '',
    usbipBusid: ref.usbip?.busid ?? '', plan: planName, status: d.status, exitCode: String(d.exitCode),
    product: d.device.product ?? '' })
    .map(([name, value]) => `      <property${attrs({ name, value })}/>`),
  '    </properties>'];
  for (const s of d.steps) {
    const where = ref.usbip === null ? ref.port : formatUsbipSelector(ref.usbip);
    const head = `    <testcase${attrs({ classname: `usbms.validate.${where}`, name: s.name, time: s.seconds.toFixed(3) })}>`;
    const reason = s.reason ?? '';
    const body: string[] = [];
    if (s.status === 'fail') body.push(`      <failure${attrs({ message: reason, type: `exit-${s.exitCode}` })}/>`);
    if (s.status === 'error') body.push(`      <error${attrs({ message: reason, type: `exit-${s.exitCode}` })}/>`);
    if (s.status === 'skip') body.push(`      <skipped${attrs({ message: reason })}/>`);
    body.push(`      <system-out>${xmlEscape(JSON.stringify(s.figures))}</system-out>`);
    lines.push(head, ...body, '    </testcase>');
  }
  lines.push('  </testsuite>');
  return lines.join('\n');
}

/**
 * The JUnit XML of a run (`--junit FILE`): a testsuite per device (named by its port path, VID:PID and serial),
 * a testcase per step with `<failure>`, `<error>` or `<skipped>` and the step's figures as system-out.
 * @param r what {@link runRig} resolved with
 * @param planName the plan's name, in the testsuites' name
 */
export function junitXml(r: RigResult, planName: string): string {
  const all = r.devices.flatMap((d) => d.steps);
  const count = (s: string): number => all.filter((x) => x.status === s).length;
  const time = Math.max(0, ...r.devices.map((d) => d.seconds));
  return ['<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: `usbms validate ${planName}`, tests: all.length, failures: count('fail'),
      errors: count('error'), skipped: count('skip'), time: time.toFixed(3) })}>`,
    ...r.devices.map((d) => suite(d, planName)),
    '</testsuites>', ''].join('\n');
}
