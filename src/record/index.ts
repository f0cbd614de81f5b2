export { BANK_TABLE, PACKS_TABLE, bankRow, csvLine, localDay, localIso, packRow, type Cell, type Table } from './rows';
export { RecordStore, checkRange, type DayFiles, type RecordOptions, type RecordStats, type TrendPoint } from './store';
