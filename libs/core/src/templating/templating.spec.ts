import { TemplateRenderError } from '../errors';
import { errorOf } from '../test-support/error-of';
import { renderCommand, renderTemplate, TEMPLATE_VARIABLES, templateContext, templateProblem } from './templating';

const ctx = templateContext({
  dagId: 'etl', runId: 'scheduled__2024-01-02T03:04:05Z', taskId: 'extract', tryNumber: 2,
  logicalDate: new Date('2024-01-02T03:04:05Z'), params: { region: 'eu', n: 3, nested: { a: 1 } }, conf: { region: 'eu' },
});

describe('templateContext', () => {
  it('exposes the run and logical date variables', () => {
    expect(ctx).toEqual({
      params: { region: 'eu', n: 3, nested: { a: 1 } }, conf: { region: 'eu' },
      dag_id: 'etl', run_id: 'scheduled__2024-01-02T03:04:05Z', task_id: 'extract', try_number: 2,
      ds: '2024-01-02', ds_nodash: '20240102', ts: '2024-01-02T03:04:05.000Z', logical_date: '2024-01-02T03:04:05.000Z', outputs: {},
    });
  });
});

describe('renderTemplate', () => {
  it('renders variables, filters and control flow, without HTML escaping', () => {
    expect(renderTemplate('extract --region {{ params.region }} --day {{ ds }} --try {{ try_number }}', ctx, 'command')).toBe('extract --region eu --day 2024-01-02 --try 2');
    expect(renderTemplate(`{{ params.region | upper }} {% if params.n > 2 %}big{% endif %} {% for i in [1, 2] %}{{ i }}{% endfor %}`, ctx, 'command')).toBe('EU big 12');
    expect(renderTemplate(`echo "<a>" && echo '{{ "&" }}'`, ctx, 'command')).toBe(`echo "<a>" && echo '&'`);
  });

  it('returns a string without templates as is', () => {
    expect(renderTemplate('echo {not a template}', ctx, 'command')).toBe('echo {not a template}');
  });

  it('names the field and the undefined variable, with the names that exist', () => {
    const err = errorOf<TemplateRenderError>(() => renderTemplate('extract --region {{ params.regoin }}', ctx, 'command'));
    expect(err).toBeInstanceOf(TemplateRenderError);
    expect(err.message).toBe('command: undefined variable "params.regoin" in "extract --region {{ params.regoin }}". Fix: use one of params.region, params.n, params.nested.');
    expect(err.field).toBe('command');
    expect(err.variable).toBe('params.regoin');
  });

  it('reports an undefined top-level variable', () => {
    const err = errorOf<TemplateRenderError>(() => renderTemplate('{{ dss }}', ctx, 'env.DAY'));
    expect(err.message).toBe('env.DAY: undefined variable "dss" in "{{ dss }}". Fix: use one of params, conf, dag_id, run_id, task_id, try_number, ds, ds_nodash, ts, logical_date, outputs.');
    expect(err.variable).toBe('dss');
  });

  it('reports the missing part of a deep lookup', () => {
    const err = errorOf<TemplateRenderError>(() => renderTemplate('{{ params.nested.b }}', ctx, 'command'));
    expect(err.variable).toBe('params.nested.b');
    expect(err.fix).toBe('use one of params.nested.a');
  });

  it('does not blame loop variables', () => {
    const err = errorOf<TemplateRenderError>(() => renderTemplate('{% for x in [1] %}{{ x }}{{ missing }}{% endfor %}', ctx, 'command'));
    expect(err.variable).toBe('missing');
  });

  it('reports a syntax error', () => {
    const err = errorOf<TemplateRenderError>(() => renderTemplate('echo {{ params.region', ctx, 'command'));
    expect(err.message).toBe('command: invalid template "echo {{ params.region": expected variable end. Fix: check the {{ }} and {% %} syntax.');
    expect(err.variable).toBeNull();
  });
});

describe('renderCommand', () => {
  it('renders a shell string', () => {
    expect(renderCommand('run --date {{ ds_nodash }}', ctx)).toBe('run --date 20240102');
  });

  it('renders each argv element and names the failing index', () => {
    expect(renderCommand(['python', 'train.py', '--region', '{{ params.region }}'], ctx)).toEqual(['python', 'train.py', '--region', 'eu']);
    const err = errorOf<TemplateRenderError>(() => renderCommand(['python', '{{ params.epochs }}'], ctx));
    expect(err.field).toBe('command[1]');
    expect(err.message).toBe('command[1]: undefined variable "params.epochs" in "{{ params.epochs }}". Fix: use one of params.region, params.n, params.nested.');
  });
});

describe('templateProblem', () => {
  const PARAMS = ['region', 'cfg', 'files', 'n'];

  it('knows every variable a run provides', () => {
    expect([...TEMPLATE_VARIABLES].sort()).toEqual(Object.keys(ctx).sort());
  });

  it.each([
    'plain text, {braces} and ${SHELL_VARS}',
    'extract --region {{ params.region }} --day {{ ds }} {{ ds_nodash }} {{ ts }} {{ logical_date }}',
    '{{ dag_id }} {{ run_id }} {{ task_id }} {{ try_number }} {{ conf.anything.deep }}',
    '{{ params.region | upper }} {{ params.region | replace("e", "a") | lower }}',
    '{{ params.region | default("eu") }} {{ params.maybe | default("x") }} {{ params.maybe | d(params.other) }}',
    '{{ params.cfg.key }} {{ params.cfg["key"].deeper }} {{ params["region"] }}',
    '{% if params.maybe %}--flag {{ params.maybe }}{% endif %}',
    '{{ params.maybe if params.maybe else "none" }} {{ params.maybe or "none" }}',
    '{% if "maybe" in params %}{{ params.maybe }}{% endif %} {% if other is defined %}{{ other }}{% endif %}',
    '{% for f in params.files %}{{ loop.index }}:{{ f }} {% endfor %}{% for k, v in params %}{{ k }}={{ v }}{% endfor %}',
    '{% set day = ds | replace("-", "") %}{{ day }} {% set block %}x{% endset %}{{ block }}',
    '{% macro flag(name, value=params.n) %}--{{ name }}={{ value }}{% endmacro %}{{ flag("n") }}',
    '{{ range(3) | join(",") }} {{ params | dump }} {{ {"a": params.n}.a }}',
    '{% raw %}{{ not.a.template }}{% endraw %} {# a comment with {{ params.nope }} #}',
  ])('accepts the valid template %p', (template) => {
    expect(templateProblem(template, PARAMS)).toBeNull();
  });

  it.each<[string, unknown]>([
    ['echo {{ params.y }}', { kind: 'unknown_param', param: 'y' }],
    ['{{ params["regoin"] }}', { kind: 'unknown_param', param: 'regoin' }],
    ['{{ params.region ~ params.nope }}', { kind: 'unknown_param', param: 'nope' }],
    ['{{ params.regoin | upper }}', { kind: 'unknown_param', param: 'regoin' }],
    ['{% for f in params.file %}{{ f }}{% endfor %}', { kind: 'unknown_param', param: 'file' }],
    ['{{ parms.x }}', { kind: 'unknown_variable', variable: 'parms' }],
    ['{{ var.value.key }}', { kind: 'unknown_variable', variable: 'var' }],
    ['{{ macros.ds_add(ds, 1) }}', { kind: 'unknown_variable', variable: 'macros' }],
    ['{{ params[key] }}', { kind: 'unknown_variable', variable: 'key' }],
    ['echo {{ ds | uppr }}', { kind: 'unknown_filter', filter: 'uppr', filters: expect.arrayContaining(['upper', 'default', 'replace']) }],
    ['{{ params.region | default("eu") | lenght }}', { kind: 'unknown_filter', filter: 'lenght', filters: expect.arrayContaining(['length']) }],
    ['echo {{ params.region }', { kind: 'syntax', reason: 'expected variable end' }],
    ['echo ${#ARR[@]}', { kind: 'syntax', reason: 'expected end of comment, got end of file' }],
  ])('reports %p', (template, problem) => {
    expect(templateProblem(template, PARAMS)).toEqual(problem);
  });

  it('takes the params as declared: none declared, none readable', () => {
    expect(templateProblem('{{ params.region }}', [])).toEqual({ kind: 'unknown_param', param: 'region' });
    expect(templateProblem('{{ params.region | default("eu") }}', [])).toBeNull();
  });
});

describe('renderCommand quotes values for the shell', () => {
  const hostile = templateContext({
    dagId: 'etl', runId: 'manual__2024-01-02T03:04:05+00:00', taskId: 't', tryNumber: 1, logicalDate: new Date('2024-01-02T03:04:05Z'),
    params: { region: 'eu; id', quote: `it's "x"`, sub: '$(id)', tick: '`id`', nl: 'a\nid', n: 3, list: ['a b', 'c'] },
    conf: { region: 'eu && id' },
  });

  it.each([
    ['echo {{ params.region }}', `echo 'eu; id'`],
    ['echo {{ conf.region }}', `echo 'eu && id'`],
    ['echo {{ params.quote }}', `echo 'it'\\''s "x"'`],
    ['echo {{ params.sub }} {{ params.tick }}', "echo '$(id)' '`id`'"],
    ['echo {{ params.nl }}', "echo 'a\nid'"],
    ['echo "{{ params.region }}"', `echo "eu; id"`],
    ['echo "{{ params.sub }}"', `echo "\\$(id)"`],
    [`echo '{{ params.quote }}'`, `echo 'it'\\''s "x"'`],
    ['echo {{ params.region | upper }}', `echo 'EU; ID'`],
    ['echo {{ params.list | join(" ") }}', `echo 'a b c'`],
  ])('%s', (template, expected) => {
    expect(renderCommand(template, hostile)).toBe(expected);
  });

  it('leaves safe values, dates and ids as they were', () => {
    expect(renderCommand('train --n {{ params.n }} --day {{ ds }} --ts {{ ts }} --run {{ run_id }} {{ dag_id }}.{{ task_id }}', hostile))
      .toBe('train --n 3 --day 2024-01-02 --ts 2024-01-02T03:04:05.000Z --run manual__2024-01-02T03:04:05+00:00 etl.t');
  });

  it('puts a value unquoted with | raw (or | safe)', () => {
    expect(renderCommand('echo {{ params.region | raw }}', hostile)).toBe('echo eu; id');
    expect(renderCommand('echo {{ params.region | safe }}', hostile)).toBe('echo eu; id');
  });

  it('does not quote argv arrays, env values or other fields', () => {
    expect(renderCommand(['echo', '{{ params.region }}'], hostile)).toEqual(['echo', 'eu; id']);
    expect(renderTemplate('{{ params.region }}', hostile, 'env.R')).toBe('eu; id');
  });

  it('names the field when a value cannot be quoted where it sits', () => {
    const err = errorOf<TemplateRenderError>(() => renderCommand('echo \\{{ params.region }}', hostile));
    expect(err.message).toBe('command: cannot quote a value in "echo \\\\{{ params.region }}": a {{ }} value follows a backslash, which would take its first character literally. Fix: remove the backslash: values are quoted for the shell already.');
  });

  it('knows raw as a filter', () => {
    expect(templateProblem('echo {{ params.region | raw }}', ['region'])).toBeNull();
  });
});
