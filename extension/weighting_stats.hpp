// The statistics of weighted panel analytics, free of PostgreSQL: compensated sums, weighted
// moments with centred (West) updates and the Chan merge, the linearized standard error of a
// domain mean, and the 95% intervals (normal for means, Korn–Graubard for proportions).
// Definitions are those of R's survey package; see the reference in the project's shared
// notes ("weighting.md") and the README section "Weighted panel analytics".
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace mcp::ext::weighting {

// qnorm(0.975), the z of every 95% mean interval (R's confint uses the exact quantile).
constexpr double kZ95 = 1.959963984540054;

// Quantile search tolerance, relative to q·W: cumulative weights summed in another order may
// miss q·W by a few ulps, and the C++ aggregate and the compiled SQL must pick the same x.
constexpr double kQuantileTolerance = 1e-10;

// A weight counts when it is a finite number above zero; NULL, zero, negative, NaN and
// infinite weights are left out (and counted by the caller).
bool usable_weight(double weight);

// Kahan–Neumaier compensated sum: the result does not depend on the order of the terms to
// within an ulp or two, which keeps parallel and serial plans equal far below 1e-9.
struct CompensatedSum {
    double sum = 0.0;
    double compensation = 0.0;

    void add(double term);
    void merge(const CompensatedSum& other);
    double value() const { return sum + compensation; }
};

// Weighted moments of one group of units (users). Trivially copyable, so it can live in
// PostgreSQL memory and travel between parallel workers as bytes.
//   mean    = Σw·x / Σw             (the estimate)
//   v_mean  = Σw²·x / Σw²           (mean under the squared weights)
//   v_m2    = Σw²·(x − v_mean)²     (centred, never Σw²x² − (Σw²x)²/Σw²)
// so that S = Σw²·(x − mean)² = v_m2 + Σw²·(v_mean − mean)², a sum of two non-negative terms.
struct Moments {
    std::int64_t count = 0;
    CompensatedSum w;  // Σw
    CompensatedSum v;  // Σw²
    double mean = 0.0;
    double v_mean = 0.0;
    double v_m2 = 0.0;

    void add(double x, double weight);  // weight must be usable
    void merge(const Moments& other);   // Chan et al.: M2 = M2a + M2b + δ²·Va·Vb/(Va+Vb)
    double weight_sum() const { return w.value(); }
    double weight_square_sum() const { return v.value(); }
    // Σ w_i² (x_i − mean)² over the units, clamped at 0.
    double centred_square_sum() const;
};

// Kish effective base W²/Σw²; nullopt when there is no weight.
std::optional<double> kish_n_eff(double weight_sum, double weight_square_sum);

// Standard error of a domain mean (or proportion) by linearization, as R's svymean on a
// design with ids = ~1: SE² = n/(n−1) · S / W², where n counts the users with a usable
// weight in the whole design and S = Σ_domain w²(x − mean)². nullopt when n < 2 or W = 0.
std::optional<double> domain_mean_se(double centred_square_sum, double weight_sum,
                                     std::int64_t design_n);

// mean ± z·SE.
std::pair<double, double> mean_interval(double mean, double se);

// The effective size of the Korn–Graubard interval with the NCHS small-base rule:
// n* = min(base, p(1−p)/SE²), and n* = base when SE is 0 or unknown.
double korn_graubard_size(double p, std::optional<double> se, std::int64_t base);

// Clopper–Pearson at size n* (R's svyciprop(method = "beta")): Beta quantiles from
// Boost.Math. low = 0 when p = 0, high = 1 when p = 1; nullopt when n* is not positive.
std::optional<std::pair<double, double>> korn_graubard_interval(double p, double n_star);

// The whole proportion interval: korn_graubard_size then korn_graubard_interval.
std::optional<std::pair<double, double>> proportion_interval(double p, std::optional<double> se,
                                                             std::int64_t base);

// One output row of an estimator: the figure, its standard error, the unweighted base, the
// Kish effective base, the 95% interval, and how many users were left out for their weight.
// low_base is decided by the caller (it depends on a setting).
struct Estimate {
    std::optional<double> value;
    std::optional<double> se;
    std::int64_t base = 0;
    std::optional<double> n_eff;
    std::optional<double> ci_low;
    std::optional<double> ci_high;
    std::int64_t excluded = 0;
};

// The estimate of a weighted mean (normal interval) over a domain's moments.
Estimate mean_estimate(const Moments& moments, std::int64_t design_n);
// The same as a total, W treated as known: value Σw·x, SE and interval W times the mean's.
Estimate total_estimate(const Moments& moments, std::int64_t design_n);
// A weighted proportion (the moments of a 0/1 indicator) with its Korn–Graubard interval.
Estimate proportion_estimate(const Moments& moments, std::int64_t design_n);

// One (value, weight) pair of a weighted quantile.
struct WeightedValue {
    double x;
    double w;
};

// The smallest x whose cumulative weight (units sorted by x, ties together) reaches q·W, as
// R's svyquantile(qrule = "math"). Sorts `values`. nullopt when there are none.
std::optional<double> weighted_quantile(std::vector<WeightedValue>& values, double q);
std::optional<double> weighted_quantile(WeightedValue* values, std::size_t count, double q);

}  // namespace mcp::ext::weighting
