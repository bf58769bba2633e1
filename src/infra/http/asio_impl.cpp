// Asio and Beast are compiled once, here, instead of in every translation unit
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION are set on the ticketing_asio
// target, which every layer links).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
