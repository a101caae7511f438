// Tasks and their dependencies, laid out by dagre (left to right), coloured by the state of
// each task in the chosen run (icon + colour), each node a link to that task's try.
import { Graph, layout } from '@dagrejs/dagre';
import { useMemo } from 'react';
import type { TaskInstanceDto, TaskSpecDto } from '../api-types';
import { navigate, path } from '../router';
import { stateIcon, stateLabel } from './state';

const NODE_W = 170;
const NODE_H = 40;

export function DagGraph({ dagId, tasks, runId, instances }: { dagId: string; tasks: TaskSpecDto[]; runId: string | null; instances: TaskInstanceDto[] }) {
  const placed = useMemo(() => {
    const g = new Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 50, marginx: 10, marginy: 10 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const t of tasks) g.setNode(t.taskId, { width: NODE_W, height: NODE_H });
    for (const t of tasks) for (const up of t.upstream) g.setEdge(up, t.taskId);
    layout(g);
    const graph = g.graph();
    return {
      width: (graph.width ?? 0) + 20,
      height: (graph.height ?? 0) + 20,
      nodes: tasks.map((t) => ({ id: t.taskId, ...(g.node(t.taskId) as { x: number; y: number }) })),
      edges: g.edges().map((e) => ({ key: `${e.v}->${e.w}`, points: (g.edge(e) as { points: { x: number; y: number }[] }).points })),
    };
  }, [tasks]);
  const stateOf = useMemo(() => new Map(instances.map((ti) => [ti.taskId, ti])), [instances]);
  if (tasks.length === 0) return <div className="empty">This DAG has no tasks.</div>;
  return (
    <div className="graph-wrap">
      <svg width={placed.width} height={placed.height} role="img" aria-label={`Graph of ${dagId}`} className="dag-graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="edge-head" />
          </marker>
        </defs>
        {placed.edges.map((e) => (
          <polyline key={e.key} points={e.points.map((p) => `${p.x},${p.y}`).join(' ')} className="edge" markerEnd="url(#arrow)" />
        ))}
        {placed.nodes.map((n) => {
          const ti = stateOf.get(n.id);
          const state = ti?.state ?? 'none';
          const go = () => runId && navigate(path('dags', dagId, 'runs', runId, 'tasks', n.id));
          return (
            <g
              key={n.id} transform={`translate(${n.x - NODE_W / 2},${n.y - NODE_H / 2})`} className={`node node-${state}${runId ? ' clickable' : ''}`}
              data-task={n.id} data-state={state} tabIndex={runId ? 0 : undefined} role={runId ? 'link' : undefined}
              aria-label={`${n.id}: ${stateLabel(state)}`} onClick={go} onKeyDown={(e) => e.key === 'Enter' && go()}
            >
              <title>{`${n.id}: ${stateLabel(state)}${ti && ti.tryNumber > 1 ? ` (try ${ti.tryNumber}/${ti.maxTries})` : ''}`}</title>
              <rect width={NODE_W} height={NODE_H} rx={6} className="node-box" />
              <rect width={6} height={NODE_H} rx={2} className={`node-bar state-${state}`} />
              <text x={16} y={NODE_H / 2 + 5} className="node-icon">{stateIcon(state)}</text>
              <text x={34} y={NODE_H / 2 + 5} className="node-label">{n.id.length > 19 ? `${n.id.slice(0, 18)}…` : n.id}</text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
