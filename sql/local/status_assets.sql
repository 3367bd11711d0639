-- Which sources fed each asset (simulated data must be labelled wherever it is shown).
SELECT asset, list(DISTINCT source ORDER BY source) AS sources
FROM prices_silver
GROUP BY asset
ORDER BY asset
