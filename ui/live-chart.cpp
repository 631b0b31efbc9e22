#include "ui/live-chart.h"

#include <algorithm>
#include <cmath>

#include <QLineSeries>
#include <QValueAxis>

namespace cyllm::ui {

LiveChart::LiveChart(int series_count, QWidget* parent) : QChartView(parent) {
  auto* chart = new QChart();
  chart->setAnimationOptions(QChart::NoAnimation);  // animations stutter at 10 Hz
  chart->setMargins(QMargins(4, 4, 4, 4));
  ax_ = new QValueAxis(chart);
  ay_ = new QValueAxis(chart);
  ax_->setLabelFormat(QStringLiteral("%.0f"));
  ay_->setLabelFormat(QStringLiteral("%.3g"));
  chart->addAxis(ax_, Qt::AlignBottom);
  chart->addAxis(ay_, Qt::AlignLeft);
  for (int i = 0; i < series_count; ++i) {
    auto* s = new QLineSeries(chart);
    chart->addSeries(s);
    s->attachAxis(ax_);
    s->attachAxis(ay_);
    series_.append(s);
    buffers_.append(QList<QPointF>());
    dirty_.append(false);
  }
  chart->legend()->setVisible(series_count > 1);
  chart->legend()->setAlignment(Qt::AlignBottom);
  setChart(chart);
  setRenderHint(QPainter::Antialiasing);
  setMinimumHeight(160);
  timer_.setInterval(100);
  connect(&timer_, &QTimer::timeout, this, &LiveChart::flush);
  timer_.start();
}

void LiveChart::setTitles(const QString& title, const QString& x_axis, const QString& y_axis,
                          const QStringList& series_names) {
  chart()->setTitle(title);
  ax_->setTitleText(x_axis);
  ay_->setTitleText(y_axis);
  for (int i = 0; i < series_.size() && i < series_names.size(); ++i) series_[i]->setName(series_names[i]);
}

void LiveChart::addPoint(int series, double x, double y) {
  if (series < 0 || series >= buffers_.size() || !std::isfinite(x) || !std::isfinite(y)) return;
  auto& b = buffers_[series];
  b.append(QPointF(x, y));
  if (b.size() > max_points_) b.remove(0, b.size() - max_points_);
  dirty_[series] = true;
}

void LiveChart::clear() {
  for (int i = 0; i < buffers_.size(); ++i) {
    buffers_[i].clear();
    dirty_[i] = true;
  }
  flush();
}

int LiveChart::pointCount(int series) const { return series >= 0 && series < buffers_.size() ? buffers_[series].size() : 0; }
int LiveChart::shownCount(int series) const { return series >= 0 && series < series_.size() ? series_[series]->count() : 0; }

void LiveChart::flush() {
  if (std::none_of(dirty_.begin(), dirty_.end(), [](bool d) { return d; })) return;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  bool any = false;
  for (int i = 0; i < buffers_.size(); ++i) {
    if (dirty_[i]) series_[i]->replace(buffers_[i]);  // one signal, one repaint
    dirty_[i] = false;
    for (const QPointF& p : buffers_[i]) {
      if (!any) x0 = x1 = p.x(), y0 = y1 = p.y(), any = true;
      x0 = std::min(x0, p.x()), x1 = std::max(x1, p.x());
      y0 = std::min(y0, p.y()), y1 = std::max(y1, p.y());
    }
  }
  if (x1 <= x0) x1 = x0 + 1;
  const double pad = (y1 - y0) * 0.05 + (y1 == y0 ? std::max(1e-9, std::abs(y1) * 0.1 + 0.5) : 0);
  ax_->setRange(x0, x1);
  double lo = y0 - pad;
  if (y0 >= 0 && lo < 0) lo = 0;  // non-negative series keep 0 as their floor
  ay_->setRange(lo, y1 + pad);
}

}  // namespace cyllm::ui
