-- Step 004: the window's reasons (why it is unusual, as JSON) and its data issue (gap, frozen), the
-- two fields WINDOW_COLUMNS gained (src/domain/windows.ts), appended in the map's order.
ALTER TABLE feed_windows ADD COLUMN reasons VARCHAR;
ALTER TABLE feed_windows ADD COLUMN data_issue VARCHAR;
