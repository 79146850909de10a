// Validates deploy/k8s/*.yaml offline:
//  1. every object against the Kubernetes OpenAPI schema of its kind (npm
//     `kubernetes-models`, generated from the upstream OpenAPI spec);
//  2. the references between them: Service selectors and HPA targets name a
//     Deployment of the set, probes name ports that exist, grpc probes name a
//     service tandem registers with grpc.health.v1;
//  3. every --flag a container passes exists in that binary (its --helpfull);
//  4. the orchestrator's dns: targets are headless Services of the set, on
//     their ports.
// Usage: node manifests_test.js K8S_DIR BINARY_DIR...   (exits 1 on a problem)
const fs = require('fs');
const path = require('path');
const {execFileSync} = require('child_process');
const YAML = require('yaml');

const [dir, ...binaryPaths] = process.argv.slice(2);
const problems = [];
const find = (objects, kind) => objects.find(({o}) => o.kind === kind).o;
const helpOf = {};

const {pathToFileURL} = require('url');

// kubernetes-models is ESM-only and ESM ignores NODE_PATH: import by path.
async function loadModels() {
  const load = async (sub) => import(pathToFileURL(
      path.join(process.env.NODE_PATH, 'kubernetes-models', sub, 'index.js')).href);
  return {
    'apps/v1/Deployment': (await load('apps/v1')).Deployment,
    'v1/Service': (await load('v1')).Service,
    'autoscaling/v2/HorizontalPodAutoscaler': (await load('autoscaling/v2')).HorizontalPodAutoscaler,
  };
}
const healthNames = ['tandem.v1.TargetService', 'tandem.v1.DraftService',
                     'tandem.v1.GenerationService'];

function check(objects, models) {
const problems = [];
const fail = (where, what) => problems.push(`${where}: ${what}`);
// 1. Schemas.
for (const {file, o} of objects) {
  const key = `${o.apiVersion}/${o.kind}`;
  const Model = models[key];
  if (!Model) {
    fail(file, `unexpected kind ${key}`);
    continue;
  }
  try {
    new Model(o).validate();
  } catch (e) {
    fail(`${file} ${o.kind}/${o.metadata && o.metadata.name}`, e.message);
  }
}

// 2. References.
const deployments = objects.filter(({o}) => o.kind === 'Deployment').map(({o}) => o);
const services = objects.filter(({o}) => o.kind === 'Service').map(({o}) => o);
const matches = (selector, labels) =>
  Object.entries(selector || {}).every(([k, v]) => labels && labels[k] === v);
for (const d of deployments) {
  if (!matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels)) {
    fail(d.metadata.name, 'selector does not match the pod labels');
  }
  for (const c of d.spec.template.spec.containers) {
    const ports = new Set((c.ports || []).flatMap((p) => [p.name, p.containerPort]));
    for (const kind of ['readinessProbe', 'livenessProbe']) {
      const probe = c[kind];
      if (!probe) {
        fail(`${d.metadata.name}/${c.name}`, `no ${kind}`);
        continue;
      }
      const port = (probe.grpc || probe.httpGet || probe.tcpSocket || {}).port;
      if (!ports.has(port)) fail(`${d.metadata.name}/${c.name}`, `${kind} port ${port} not declared`);
      if (probe.grpc && probe.grpc.service && !healthNames.includes(probe.grpc.service)) {
        fail(`${d.metadata.name}/${c.name}`, `${kind} asks for unknown service ${probe.grpc.service}`);
      }
    }
    if (!c.resources || !c.resources.requests) fail(`${d.metadata.name}/${c.name}`, 'no resource requests');
  }
}
for (const s of services) {
  const target = deployments.find((d) => matches(s.spec.selector, d.spec.template.metadata.labels));
  if (!target) {
    fail(`Service ${s.metadata.name}`, 'selects no Deployment');
    continue;
  }
  const names = new Set(target.spec.template.spec.containers.flatMap((c) => (c.ports || []).map((p) => p.name)));
  for (const p of s.spec.ports) {
    if (typeof p.targetPort === 'string' && !names.has(p.targetPort)) {
      fail(`Service ${s.metadata.name}`, `targetPort ${p.targetPort} is not a container port`);
    }
  }
}
for (const {o} of objects.filter(({o}) => o.kind === 'HorizontalPodAutoscaler')) {
  const ref = o.spec.scaleTargetRef;
  if (!deployments.some((d) => d.metadata.name === ref.name && ref.kind === 'Deployment')) {
    fail(`HPA ${o.metadata.name}`, `scales ${ref.kind}/${ref.name}, not in the set`);
  }
}

// 3. Flags exist in the binaries; 4. dns: targets point at headless Services.
const binaries = Object.fromEntries(binaryPaths.map((b) => [path.basename(b), b]));
for (const d of deployments) {
  for (const c of d.spec.template.spec.containers) {
    const name = c.command[0];
    if (!binaries[name]) {
      fail(`${d.metadata.name}/${c.name}`, `command ${name} is not a tandem binary`);
      continue;
    }
    if (!(name in helpOf)) {
      try {
        helpOf[name] = execFileSync(binaries[name], ['--helpfull'], {encoding: 'utf8'});
      } catch (e) {
        helpOf[name] = (e.stdout || '') + (e.stderr || '');  // absl exits 1 after --helpfull.
      }
    }
    for (const arg of c.args || []) {
      const flag = arg.split('=')[0].replace(/^--/, '');
      if (!new RegExp(`--${flag}[ (]`).test(helpOf[name])) {
        fail(`${d.metadata.name}/${c.name}`, `${name} has no flag --${flag}`);
      }
      const dns = /^--(target|draft)=dns:\/\/\/([^:]+):(\d+)$/.exec(arg);
      if (dns) {
        const svc = services.find((s) => s.metadata.name === dns[2]);
        if (!svc) fail(d.metadata.name, `${arg}: no Service ${dns[2]}`);
        else if (svc.spec.clusterIP !== 'None') fail(d.metadata.name, `${arg}: ${dns[2]} is not headless`);
        else if (!svc.spec.ports.some((p) => String(p.port) === dns[3])) {
          fail(d.metadata.name, `${arg}: ${dns[2]} has no port ${dns[3]}`);
        }
      }
    }
  }
}

return problems;
}

async function main() {
const models = await loadModels();
const objects = [];
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
  for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))) {
    if (doc.errors.length) problems.push(`${file}: ${doc.errors.join('; ')}`);
    const o = doc.toJSON();
    if (o) objects.push({file, o});
  }
}
if (objects.length === 0) problems.push(`${dir}: no manifests`);

const found = check(objects, models);
// Negative controls through the same checks: each planted mistake must be
// reported, or the checks prove nothing.
const plants = [
  ['a replica count that is not an integer', (os) => { find(os, 'Deployment').spec.replicas = 'two'; }],
  ['a flag the binary does not have', (os) => { find(os, 'Deployment').spec.template.spec.containers[0].args.push('--no_such_flag=1'); }],
  ['a probe for an unknown service', (os) => { find(os, 'Deployment').spec.template.spec.containers[0].readinessProbe.grpc.service = 'tandem.v1.Nope'; }],
  ['an HPA for a missing Deployment', (os) => { find(os, 'HorizontalPodAutoscaler').spec.scaleTargetRef.name = 'nope'; }],
  ['a Service selecting nothing', (os) => { find(os, 'Service').spec.selector = {app: 'nope'}; }],
];
for (const [what, plant] of plants) {
  const copy = JSON.parse(JSON.stringify(objects));
  plant(copy);
  if (check(copy, models).length === 0) found.push(`negative control not detected: ${what}`);
}
problems.push(...found);
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`${objects.length} objects valid`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
