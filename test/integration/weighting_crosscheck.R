# The oracle of weighting_r_crosscheck.t: R's survey package computes every figure that
# mcp_analytics computes, on the same panel, from the raw users and events (per-user rows are
# built here, independently of our SQL).
#
#   Rscript weighting_crosscheck.R DIR    reads DIR/users.csv, DIR/events.csv, DIR/specs.csv
#                                         writes DIR/r_results.csv
#
# The design is svydesign(ids = ~1, weights = ~weight) over the users with a positive weight;
# every group, filter and reached set is a domain (subset) of it. Proportion intervals are
# svyciprop(method = "beta"), except where the NCHS small-base rule caps the effective size
# (p(1-p)/SE^2 > base, or SE = 0): there the Clopper-Pearson interval at n* = base, from qbeta.
suppressPackageStartupMessages(library(survey))

dir <- commandArgs(trailingOnly = TRUE)[1]
users <- read.csv(file.path(dir, "users.csv"), na.strings = "",
                  colClasses = c("integer", "numeric", "integer", "integer"))
events <- read.csv(file.path(dir, "events.csv"),
                   colClasses = c("integer", "character", "character", "numeric"))
specs <- read.csv(file.path(dir, "specs.csv"), colClasses = "character")

users <- users[!is.na(users$weight) & users$weight > 0, ]
per_user <- function(rows, value = rep(1, nrow(rows))) {
    total <- rowsum(value, rows$user_id)
    out <- total[match(users$user_id, as.integer(rownames(total)))]
    ifelse(is.na(out), 0, out)
}
purchases <- events[events$event_type == "purchase", ]
users$purch_n <- per_user(purchases)
users$purch_spend <- per_user(purchases, purchases$spend)
users$purch_reached <- as.numeric(users$purch_n > 0)
users$any_n <- per_user(events)
for (platform in c("mobile", "ctv"))
    users[[paste0("reached_", platform)]] <- as.numeric(per_user(events[events$platform == platform, ]) > 0)
users$adult40 <- as.numeric(users$age >= 40)

design <- svydesign(ids = ~1, weights = ~weight, data = users)
population <- sum(users$weight)
calibrated <- calibrate(design, ~1, population = c(`(Intercept)` = population))

results <- list()
emit <- function(spec, g, platform, value, se, base, n_eff, ci) {
    results[[length(results) + 1]] <<- data.frame(
        spec = spec, g = ifelse(is.na(g), "", as.character(g)), platform = platform,
        value = value, se = ifelse(is.null(se), NA, se), base = base, n_eff = n_eff,
        ci_low = ci[1], ci_high = ci[2], stringsAsFactors = FALSE)
}

domain_facts <- function(in_domain) {
    w <- users$weight[in_domain]
    list(base = sum(in_domain), W = sum(w), n_eff = sum(w)^2 / sum(w^2))
}

proportion <- function(in_domain, variable) {
    sub <- subset(design, in_domain)
    estimate <- svymean(as.formula(paste0("~", variable)), sub)
    p <- unname(coef(estimate)); se <- unname(SE(estimate))
    base <- sum(in_domain)
    if (se > 0 && p * (1 - p) / se^2 <= base) {
        ci <- as.vector(confint(svyciprop(as.formula(paste0("~", variable)), sub, method = "beta")))
    } else {
        ci <- c(if (p == 0) 0 else qbeta(0.025, base * p, base * (1 - p) + 1),
                if (p == 1) 1 else qbeta(0.975, base * p + 1, base * (1 - p)))
    }
    list(p = p, se = se, ci = ci)
}

average <- function(in_domain, variable) {
    estimate <- svymean(as.formula(paste0("~", variable)), subset(design, in_domain))
    list(m = unname(coef(estimate)), se = unname(SE(estimate)), ci = as.vector(confint(estimate)))
}

groups <- sort(unique(users$g))
for (i in seq_len(nrow(specs))) {
    spec <- specs$name[i]; kind <- specs$kind[i]
    by_group <- specs$by_group[i] == "1"
    platforms <- if (specs$by_platform[i] == "1") c("mobile", "ctv") else ""
    for (g in if (by_group) groups else NA) {
        for (platform in platforms) {
            universe <- if (is.na(g)) rep(TRUE, nrow(users)) else users$g == g
            if (specs$user_filter[i] == "age >= 25") universe <- universe & users$age >= 25
            if (sum(universe) == 0) next
            facts <- domain_facts(universe)
            if (kind %in% c("reach", "reach_pct")) {
                y <- if (platform == "") "purch_reached" else paste0("reached_", platform)
                if (platform != "" && sum(users[[y]][universe]) == 0) next  # no row: nobody reached
                r <- proportion(universe, y)
                if (kind == "reach_pct") {
                    emit(spec, g, platform, r$p, r$se, facts$base, facts$n_eff, r$ci)
                } else if (is.na(g)) {  # whole design: svytotal on the calibrated design
                    total <- svytotal(as.formula(paste0("~", y)), calibrated)
                    emit(spec, g, platform, unname(coef(total)), unname(SE(total)), facts$base,
                         facts$n_eff, population * r$ci)
                } else {
                    emit(spec, g, platform, facts$W * r$p, facts$W * r$se, facts$base, facts$n_eff,
                         facts$W * r$ci)
                }
            } else if (kind == "share") {
                r <- proportion(universe, "adult40")
                emit(spec, g, platform, r$p, r$se, facts$base, facts$n_eff, r$ci)
            } else if (kind == "projected_events") {
                if (is.na(g)) {
                    total <- svytotal(~any_n, calibrated)
                    emit(spec, g, platform, unname(coef(total)), unname(SE(total)), facts$base,
                         facts$n_eff, as.vector(confint(total)))
                } else {
                    r <- average(universe, "any_n")
                    emit(spec, g, platform, facts$W * r$m, facts$W * r$se, facts$base, facts$n_eff,
                         facts$W * r$ci)
                }
            } else if (kind %in% c("mean_spend", "avg_frequency")) {
                reached <- universe & users$purch_reached == 1
                if (sum(reached) == 0) next
                r <- average(reached, if (kind == "mean_spend") "purch_spend" else "purch_n")
                f <- domain_facts(reached)
                emit(spec, g, platform, r$m, r$se, f$base, f$n_eff, r$ci)
            } else if (kind == "mean_age") {
                r <- average(universe, "age")
                emit(spec, g, platform, r$m, r$se, facts$base, facts$n_eff, r$ci)
            } else if (kind == "quantile") {
                q <- unname(coef(svyquantile(~age, subset(design, universe), quantiles = 0.3, ci = FALSE)))
                # survey 4.1's qrule "math" (qs()) answers the second-lowest value when the
                # lowest alone holds more than q of the weight (its last() falls back to 1);
                # the inverse of the weighted CDF, which the rule means, is the lowest value.
                w <- users$weight[universe]; x <- users$age[universe]
                if (sum(w[x == min(x)]) > 0.3 * sum(w)) q <- min(x)
                emit(spec, g, platform, q, NULL, facts$base, facts$n_eff, c(NA, NA))
            }
        }
    }
}

table <- do.call(rbind, results)
for (column in c("value", "se", "n_eff", "ci_low", "ci_high"))
    table[[column]] <- ifelse(is.na(table[[column]]), "", formatC(table[[column]], digits = 17, format = "g"))
write.csv(table, file.path(dir, "r_results.csv"), row.names = FALSE, quote = FALSE)
