// A metrics registry with Prometheus text exposition (format 0.0.4): counters, gauges and
// histograms, each a family of series keyed by label values. One registry feeds /metrics, the
// GUI's Metrics panel and the alerts. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cyllm {

using Labels = std::vector<std::pair<std::string, std::string>>;  // (name, value), in a fixed order

class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a family (idempotent). Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
  // [a-zA-Z_][a-zA-Z0-9_]*; invalid names are rejected (false) rather than exported broken.
  bool counter(const std::string& name, const std::string& help, std::vector<std::string> label_names);
  bool gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names);
  bool histogram(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                 std::vector<double> buckets);

  // Label values in the order of the family's label names; unknown family or wrong arity: ignored.
  void inc(const std::string& name, const std::vector<std::string>& label_values, double by = 1.0);
  void set(const std::string& name, const std::vector<std::string>& label_values, double value);
  void observe(const std::string& name, const std::vector<std::string>& label_values, double value);

  // Current value of a counter or gauge series, or a histogram's count (0 when absent).
  double value(const std::string& name, const std::vector<std::string>& label_values) const;
  double histogram_sum(const std::string& name, const std::vector<std::string>& label_values) const;

  std::string exposition() const;

  static bool valid_metric_name(const std::string& s);
  static bool valid_label_name(const std::string& s);
  static std::string escape_label_value(const std::string& s);

 private:
  struct Series {
    double value = 0;               // counter / gauge
    std::vector<uint64_t> buckets;  // histogram: cumulative counts are computed at exposition
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::map<std::vector<std::string>, Series> series;
  };
  bool declare(const std::string& name, Type t, const std::string& help, std::vector<std::string> label_names,
               std::vector<double> bounds);
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace cyllm
