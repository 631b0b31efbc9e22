// A line chart for live data: points are appended to per-series buffers at any rate; a 100 ms
// timer pushes each changed series to Qt Charts with one replace() and rescales the axes, so
// 10 Hz updates over thousands of points stay smooth (see shared notes: Qt Charts 6.4). GUI
// thread only.
#pragma once

#include <QChartView>
#include <QList>
#include <QPointF>
#include <QStringList>
#include <QTimer>

class QLineSeries;
class QValueAxis;

namespace cyllm::ui {

class LiveChart : public QChartView {
  Q_OBJECT
 public:
  explicit LiveChart(int series_count, QWidget* parent = nullptr);

  void setTitles(const QString& title, const QString& x_axis, const QString& y_axis, const QStringList& series_names);
  void addPoint(int series, double x, double y);
  void clear();
  int pointCount(int series) const;  // points in the buffer (shown within 100 ms)
  int shownCount(int series) const;  // points Qt Charts holds now
  void setMaxPoints(int n) { max_points_ = n; }
  // Pushes pending points now (tests, screenshots).
  void flush();

 private:
  QList<QList<QPointF>> buffers_;
  QList<QLineSeries*> series_;
  QList<bool> dirty_;
  QValueAxis* ax_;
  QValueAxis* ay_;
  QTimer timer_;
  int max_points_ = 20000;
};

}  // namespace cyllm::ui
