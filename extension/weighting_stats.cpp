#include "weighting_stats.hpp"

#include <boost/math/special_functions/beta.hpp>

#include <algorithm>
#include <cmath>

namespace mcp::ext::weighting {

bool usable_weight(double weight) { return std::isfinite(weight) && weight > 0.0; }

void CompensatedSum::add(double term) {
    const double next = sum + term;
    // Neumaier: keep whichever low-order bits the larger operand pushed out.
    if (std::fabs(sum) >= std::fabs(term))
        compensation += (sum - next) + term;
    else
        compensation += (term - next) + sum;
    sum = next;
}

void CompensatedSum::merge(const CompensatedSum& other) {
    add(other.sum);
    add(other.compensation);
}

void Moments::add(double x, double weight) {
    const double square = weight * weight;
    ++count;
    w.add(weight);
    v.add(square);
    // West's weighted update of the mean; the v-stream also carries its centred sum.
    mean += (x - mean) * (weight / w.value());
    const double delta = x - v_mean;
    v_mean += delta * (square / v.value());
    v_m2 += square * delta * (x - v_mean);
}

void Moments::merge(const Moments& other) {
    if (other.count == 0) return;
    if (count == 0) {
        *this = other;
        return;
    }
    const double wa = w.value(), wb = other.w.value();
    const double va = v.value(), vb = other.v.value();
    count += other.count;
    w.merge(other.w);
    v.merge(other.v);
    mean += (other.mean - mean) * (wb / (wa + wb));
    const double delta = other.v_mean - v_mean;
    v_mean += delta * (vb / (va + vb));
    v_m2 += other.v_m2 + delta * delta * (va * vb / (va + vb));
}

double Moments::centred_square_sum() const {
    if (count == 0) return 0.0;
    const double shift = v_mean - mean;
    return std::max(0.0, v_m2) + v.value() * shift * shift;
}

std::optional<double> kish_n_eff(double weight_sum, double weight_square_sum) {
    if (!(weight_square_sum > 0.0)) return std::nullopt;
    return weight_sum * weight_sum / weight_square_sum;
}

std::optional<double> domain_mean_se(double centred_square_sum, double weight_sum,
                                     std::int64_t design_n) {
    if (design_n < 2 || !(weight_sum > 0.0)) return std::nullopt;
    const double n = static_cast<double>(design_n);
    return std::sqrt(n / (n - 1.0) * std::max(0.0, centred_square_sum)) / weight_sum;
}

std::pair<double, double> mean_interval(double mean, double se) {
    return {mean - kZ95 * se, mean + kZ95 * se};
}

double korn_graubard_size(double p, std::optional<double> se, std::int64_t base) {
    const double cap = static_cast<double>(base);
    if (!se || !(*se > 0.0)) return cap;
    return std::min(cap, p * (1.0 - p) / (*se * *se));
}

std::optional<std::pair<double, double>> korn_graubard_interval(double p, double n_star) {
    if (!(n_star > 0.0) || !std::isfinite(n_star) || !(p >= 0.0 && p <= 1.0)) return std::nullopt;
    const double low =
        p <= 0.0 ? 0.0 : boost::math::ibeta_inv(n_star * p, n_star * (1.0 - p) + 1.0, 0.025);
    const double high =
        p >= 1.0 ? 1.0 : boost::math::ibeta_inv(n_star * p + 1.0, n_star * (1.0 - p), 0.975);
    return std::make_pair(low, high);
}

std::optional<std::pair<double, double>> proportion_interval(double p, std::optional<double> se,
                                                             std::int64_t base) {
    return korn_graubard_interval(p, korn_graubard_size(p, se, base));
}

Estimate mean_estimate(const Moments& moments, std::int64_t design_n) {
    Estimate estimate;
    estimate.base = moments.count;
    if (moments.count == 0) return estimate;
    const double weight_sum = moments.weight_sum();
    estimate.value = moments.mean;
    estimate.n_eff = kish_n_eff(weight_sum, moments.weight_square_sum());
    estimate.se = domain_mean_se(moments.centred_square_sum(), weight_sum, design_n);
    if (estimate.se) {
        auto [low, high] = mean_interval(moments.mean, *estimate.se);
        estimate.ci_low = low;
        estimate.ci_high = high;
    }
    return estimate;
}

Estimate total_estimate(const Moments& moments, std::int64_t design_n) {
    Estimate estimate = mean_estimate(moments, design_n);
    const double weight_sum = moments.weight_sum();
    auto scale = [weight_sum](std::optional<double>& figure) {
        if (figure) *figure *= weight_sum;
    };
    scale(estimate.value);
    scale(estimate.se);
    scale(estimate.ci_low);
    scale(estimate.ci_high);
    return estimate;
}

Estimate proportion_estimate(const Moments& moments, std::int64_t design_n) {
    Estimate estimate = mean_estimate(moments, design_n);
    estimate.ci_low.reset();
    estimate.ci_high.reset();
    if (!estimate.value) return estimate;
    if (auto interval = proportion_interval(*estimate.value, estimate.se, estimate.base)) {
        estimate.ci_low = interval->first;
        estimate.ci_high = interval->second;
    }
    return estimate;
}

std::optional<double> weighted_quantile(WeightedValue* values, std::size_t count, double q) {
    if (count == 0) return std::nullopt;
    std::sort(values, values + count,
              [](const WeightedValue& a, const WeightedValue& b) { return a.x < b.x; });
    CompensatedSum total;
    for (std::size_t i = 0; i < count; ++i) total.add(values[i].w);
    const double threshold = q * total.value() * (1.0 - kQuantileTolerance);
    CompensatedSum cumulative;
    for (std::size_t i = 0; i < count;) {
        const double x = values[i].x;
        for (; i < count && values[i].x == x; ++i) cumulative.add(values[i].w);  // ties together
        if (cumulative.value() >= threshold) return x;
    }
    return values[count - 1].x;
}

std::optional<double> weighted_quantile(std::vector<WeightedValue>& values, double q) {
    return weighted_quantile(values.data(), values.size(), q);
}

}  // namespace mcp::ext::weighting
