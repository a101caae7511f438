export * from './process/process-executor';
export { LineSplitter, MAX_LINE_LENGTH } from './process/line-splitter';
export * from './docker';
