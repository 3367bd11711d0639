-- Gold windows in (:since, :until], the newest :max_rows of them, in time order per asset.
SELECT asset, symbol, window_end, price_avg, price_vol, price_min, price_max, vol_sum, ret_window
FROM (
  SELECT * FROM metrics_gold
  WHERE window_end > CAST(:since AS TIMESTAMP) AND window_end <= CAST(:until AS TIMESTAMP)
  ORDER BY window_end DESC, asset
  LIMIT :max_rows
)
ORDER BY asset, window_end
