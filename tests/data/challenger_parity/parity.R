# Reference values for wmheval's challengeR-compatible schemes, computed with base R only
# (challengeR 1.0.5's own calls, spelled out). Run: Rscript parity.R  (in this folder).
# Reads cases.csv (written by make_tables.py); writes wilcoxon.csv, rank_then_aggregate.csv,
# aggregate_then_rank.csv.
cases <- read.csv("cases.csv", stringsAsFactors = FALSE)
metrics <- c(dice = TRUE, h95 = FALSE)  # largeBetter
wil <- list(); rta <- list(); atr <- list()
for (tab in sort(unique(cases$table))) {
  d <- cases[cases$table == tab, ]
  teams <- sort(unique(d$team))
  for (m in names(metrics)) {
    large <- metrics[[m]]
    wide <- sapply(teams, function(t) d[d$team == t, m][order(d$case[d$team == t])])
    # decision.challenge: one-sided paired Wilcoxon, exact = FALSE, correct = TRUE (default)
    alt <- if (large) "greater" else "less"
    for (i in teams) for (j in teams) if (i != j) {
      p <- suppressWarnings(wilcox.test(wide[, i], wide[, j], alternative = alt,
                                        exact = FALSE, paired = TRUE)$p.value)
      wil[[length(wil) + 1]] <- data.frame(table = tab, metric = m, team_i = i, team_j = j,
                                           p = p)
    }
    # rankThenAggregate(FUN = mean, ties.method = "min") with rankNA2 (NA ranked last)
    ranks <- t(apply(wide, 1, function(x) {
      r <- rank((-1)^large * x, ties.method = "min", na.last = "keep")
      if (any(is.na(x))) r[is.na(x)] <- ifelse(all(is.na(x)), 0, max(r, na.rm = TRUE)) + 1
      r
    }))
    mean_rank <- colMeans(ranks)
    rta[[length(rta) + 1]] <- data.frame(table = tab, metric = m, team = teams,
                                         mean_rank = mean_rank,
                                         rank = rank(mean_rank, ties.method = "min"))
    # aggregateThenRank(FUN = mean, ties.method = "min"), NA removed from the mean
    agg <- colMeans(wide, na.rm = TRUE)
    atr[[length(atr) + 1]] <- data.frame(table = tab, metric = m, team = teams, mean = agg,
                                         rank = rank((-1)^large * agg, ties.method = "min"))
  }
}
wil <- do.call(rbind, wil)
wil$p_holm <- ave(wil$p, wil$table, wil$metric, FUN = function(p) p.adjust(p, "holm"))
write.csv(wil, "wilcoxon.csv", row.names = FALSE)
write.csv(do.call(rbind, rta), "rank_then_aggregate.csv", row.names = FALSE)
write.csv(do.call(rbind, atr), "aggregate_then_rank.csv", row.names = FALSE)
cat(R.version.string, "\n")
