-- The assets that have Gold windows.
SELECT DISTINCT asset FROM metrics_gold ORDER BY asset
