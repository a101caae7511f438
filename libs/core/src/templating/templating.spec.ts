import { TemplateRenderError } from '../errors';
import { errorOf } from '../test-support/error-of';
import { renderCommand, renderTemplate, templateContext } from './templating';

const ctx = templateContext({
  dagId: 'etl', runId: 'scheduled__2024-01-02T03:04:05Z', taskId: 'extract', tryNumber: 2,
  logicalDate: new Date('2024-01-02T03:04:05Z'), params: { region: 'eu', n: 3, nested: { a: 1 } }, conf: { region: 'eu' },
});

describe('templateContext', () => {
  it('exposes the run and logical date variables', () => {
    expect(ctx).toEqual({
      params: { region: 'eu', n: 3, nested: { a: 1 } }, conf: { region: 'eu' },
      dag_id: 'etl', run_id: 'scheduled__2024-01-02T03:04:05Z', task_id: 'extract', try_number: 2,
      ds: '2024-01-02', ds_nodash: '20240102', ts: '2024-01-02T03:04:05.000Z', logical_date: '2024-01-02T03:04:05.000Z',
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
    expect(err.message).toBe('env.DAY: undefined variable "dss" in "{{ dss }}". Fix: use one of params, conf, dag_id, run_id, task_id, try_number, ds, ds_nodash, ts, logical_date.');
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
